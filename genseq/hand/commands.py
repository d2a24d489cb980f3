"""`genseq hand train|eval|sample` and `genseq write`: the networks' commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genseq.errors import GenseqError


def add_model_commands(hs: argparse._SubParsersAction) -> None:
    from genseq.text.cli import add_precision_flag, add_train_flags

    p = hs.add_parser(
        "train",
        help="train a prediction (§4) or synthesis (§5) network",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--task", choices=["predict", "synth"], required=True)
    p.add_argument("--data", required=True, help="cache written by `genseq hand prepare`")
    p.add_argument("--out", required=True, help="model directory to write")
    g = p.add_argument_group("model")
    g.add_argument("--layers", type=int, default=3)
    g.add_argument("--hidden", type=int, default=400)
    g.add_argument("--mixtures", type=int, default=20, help="M Gaussians of the MDN")
    g.add_argument("--window", type=int, default=10, help="K Gaussians of the soft window")
    g.add_argument("--alphabet", choices=["full", "paper57"], default="full")
    g.add_argument("--peepholes", action="store_true")
    g.add_argument(
        "--output-clip",
        type=float,
        default=0.0,
        help="clip output derivatives to [-v, v] (Graves: 100); 0 = off",
    )
    g.add_argument(
        "--crop-len",
        type=int,
        default=0,
        help="train on random crops of N points (prediction only); 0 = whole lines",
    )
    g.add_argument(
        "--chunk-len",
        type=int,
        default=0,
        help="truncated BPTT: one update per N points of each batch, the state (and the "
        "window's κ, w) carried across its chunks; 0 = one update per whole line (or crop)",
    )
    g.add_argument(
        "--eval-batches",
        type=int,
        default=0,
        help="validate on the first N batches only (0 = the whole set)",
    )
    add_train_flags(p, lr=1e-3)
    p.set_defaults(func=cmd_train, batch_size=32)

    p = hs.add_parser("eval", help="validation nats per sequence and SSE (Tables 3–4)")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="the cache")
    p.add_argument("--split", default="valid", help="valid (testset_v), train, or a split name")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_precision_flag(p)
    p.set_defaults(func=cmd_eval)

    p = hs.add_parser(
        "sample",
        help="unconditional handwriting from a prediction network (or a figure of it)",
        description="Sample a line from a prediction network (§4). With --figure, draw the "
        "paper's figure instead: density (Fig 10: predicted densities summed over the line, "
        "and the mixture weights) of the sample, or of a real line with --data and --line; "
        "for a synthesis model and a real line, density (Fig 14) or phi (Fig 13: the "
        "window weights φ(t, u)).",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--steps", type=int, default=700)
    p.add_argument("--bias", type=float, default=0.0, help="eqs 61–62; 0 = unbiased")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "-o", "--output", required=True, help="FILE.svg or FILE.png (with --figure: .png/.svg/.pdf)"
    )
    p.add_argument(
        "--figure",
        choices=["density", "phi"],
        default=None,
        help="draw this figure to -o instead of the handwriting",
    )
    p.add_argument("--data", default=None, help="with --figure: a cache holding --line")
    p.add_argument(
        "--line", default=None, help="with --figure: a real line id (e.g. a01-000u-01) to read"
    )
    p.set_defaults(func=cmd_sample)

    p = hs.add_parser(
        "styles",
        help="list the built-in styles of `genseq write --style K`, or make candidates",
        description="List the built-in handwriting styles (§5.5 primed sampling). With --make, "
        "sample candidate style lines with a trained synthesis model into --out, with a "
        "contact sheet candidates.png; keep the good ones.",
    )
    p.add_argument("--make", metavar="MODEL", default=None, help="synthesis model directory")
    p.add_argument("--out", default=None, help="folder for --make (default: the built-ins')")
    p.add_argument("--n", type=int, default=12, help="--make: how many candidates")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bias", type=float, default=0.5, help="--make: sampling bias")
    p.add_argument(
        "--prime-data",
        metavar="CACHE",
        default=None,
        help="--make: prime each candidate with a different real line of this IAM-OnDB cache's "
        "validation set (§5.5), so the candidates are distinct writers' hands; only the "
        "network's own points are saved",
    )
    p.set_defaults(func=cmd_styles)


def add_write_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "write",
        help="write text in handwriting (§5) to SVG/PNG",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("text", help="the text; '-' reads it from standard input")
    p.add_argument(
        "--model", default="synth", help="a shipped model name or a run directory (default: synth)"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="FILE.svg or FILE.png (or .svg / .gcode with --format)",
    )
    p.add_argument("--bias", type=float, default=0.5, help="eqs 61–62: higher is neater")
    p.add_argument("--width", type=int, default=40, help="characters per line (word-wrapped)")
    p.add_argument("--color", default="black")
    p.add_argument("--stroke-width", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--format",
        choices=["auto", "plotter", "gcode"],
        default="auto",
        help="plotter: one single-stroke SVG path with pen-up moves",
    )
    p.add_argument("--strict", action="store_true", help="refuse characters the model lacks "
                   "instead of folding them (é → e, “ → \")")  # fmt: skip
    g = p.add_argument_group("style (§5.5 primed sampling)")
    s = g.add_mutually_exclusive_group()
    s.add_argument(
        "--style-from",
        metavar="FILE",
        default=None,
        help='write in the style of your own line: JSON {"text": ..., "points": [[x, y, eos], '
        '...]} or {"text": ..., "strokes": [[[x, y], ...], ...]} (y down), or an SVG of paths/'
        "polylines (text from its <title>); rescaled to the model's line height",
    )
    s.add_argument(
        "--style",
        type=int,
        metavar="K",
        default=None,
        help="built-in style K, counted from 0 (list them: genseq hand styles)",
    )
    g.add_argument(
        "--style-text", metavar="TEXT", default=None, help="what the --style-from line reads"
    )
    g = p.add_argument_group("figures (of the first line)")
    g.add_argument(
        "--figure",
        choices=["phi", "density"],
        default=None,
        help="phi: Fig 13, the window weights φ(t, u); density: Fig 14, the predicted "
        "densities and mixture weights",
    )
    g.add_argument("--figure-out", metavar="FILE", default=None, help="the figure's .png/.svg/.pdf")
    from genseq.hand.recognize.cli import add_legible_flags

    add_legible_flags(p.add_argument_group("legibility (issue 13)"))
    p.set_defaults(func=cmd_write)


def _datasets(cache: str, task: str, alphabet):
    from genseq.hand.data import HandCache, HandDataset

    if not Path(cache).is_file():
        raise GenseqError(f"no such cache: {cache} (make one with `genseq hand prepare`)")
    c = HandCache.load(cache)
    need_text = task == "synth"
    train = HandDataset(c, "train", alphabet=alphabet, require_text=need_text)
    valid = HandDataset(c, "valid", alphabet=train.alphabet, require_text=need_text)
    return train, valid


def _build(task: str, a: argparse.Namespace, alphabet_size: int):
    from genseq.hand.model import PredictionConfig, PredictionNet, SynthesisConfig, SynthesisNet

    if a.layers < 1 or a.hidden < 1 or a.mixtures < 1 or a.window < 1:
        raise GenseqError("--layers, --hidden, --mixtures and --window must be >= 1")
    common = dict(
        hidden_size=a.hidden,
        num_layers=a.layers,
        n_mixtures=a.mixtures,
        peepholes=a.peepholes,
        dropout=a.dropout,
        lstm_grad_clip=a.lstm_clip,
        output_grad_clip=a.output_clip,
    )
    if task == "predict":
        return PredictionNet(PredictionConfig(**common))
    return SynthesisNet(SynthesisConfig(alphabet_size=alphabet_size, n_window=a.window, **common))


def cmd_train(a: argparse.Namespace) -> int:
    from genseq.hand.alphabet import Alphabet
    from genseq.hand.data import HandBatches
    from genseq.hand.task import HandTask
    from genseq.text.cli import train_config
    from genseq.text.model import count_parameters
    from genseq.train.checkpoint import checkpoint_config, model_class
    from genseq.train.distributed import is_main
    from genseq.train.trainer import Trainer

    cfg = train_config(a)
    say = print if is_main() else (lambda *a, **k: None)  # one voice under DDP
    out = Path(a.out)
    if a.resume:
        meta = checkpoint_config(out / "checkpoint.safetensors", ("predict", "synth"))
        saved = meta["config"]
        cfg.seed = meta["train"]["seed"]  # the run's batch order, whatever --seed says now
        task, batch, crop = saved["kind"], saved["batch_size"], saved.get("crop_len", 0)
        chunk = saved.get("chunk_len", 0)
        train, valid = _datasets(a.data, task, Alphabet.from_json(saved["alphabet"]))
        model = model_class(task).from_config(saved["model"])
    else:
        task, batch, crop, chunk = a.task, a.batch_size, a.crop_len, a.chunk_len
        if chunk < 0:
            raise GenseqError(f"--chunk-len must be >= 0, got {chunk}")
        if crop and task == "synth":
            raise GenseqError("--crop-len is for prediction only: a crop loses its text")
        train, valid = _datasets(a.data, task, a.alphabet)
        model = _build(task, a, train.alphabet.size)
    batches = HandBatches(train, batch, seed=cfg.seed, crop_len=crop or None)
    vbatches = HandBatches(valid, batch, seed=0, shuffle=False)
    extra = {
        "norm": train.stats.to_json(),
        "alphabet": train.alphabet.to_json(),
        "batch_size": batch,
        "crop_len": crop,
        "chunk_len": chunk,
        "data": str(a.data),
        "preprocessing": train.cache.preprocessing,
    }
    htask = HandTask(batches, vbatches, chunk_len=chunk, eval_batches=a.eval_batches)
    say(
        f"genseq: {task}: {len(train):,} training / {len(valid):,} validation lines; "
        f"model {count_parameters(model):,} weights; {htask.num_batches():,} updates per epoch",
        file=sys.stderr,
    )
    trainer = Trainer(model, htask, cfg, out, extra, progress=not a.no_progress)
    res = trainer.fit(resume=a.resume, lr=a.lr)
    say(
        f"genseq: {res['step']} updates, best validation {res['best']:.1f} nats per line; "
        f"model in {out}",
        file=sys.stderr,
    )
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from genseq.hand.data import HandBatches, HandCache, HandDataset
    from genseq.hand.sample import load_hand_model
    from genseq.hand.task import evaluate
    from genseq.nn.precision import autocast

    m = load_hand_model(a.model)
    if not Path(a.data).is_file():
        raise GenseqError(f"no such cache: {a.data}")
    ds = HandDataset(
        HandCache.load(a.data),
        a.split,
        alphabet=m.alphabet or "full",
        require_text=m.kind == "synth",
    )
    ds.stats = m.stats  # the model's own normalisation (computed on its training set)
    with autocast(a.precision):
        res = evaluate(m.net, HandBatches(ds, a.batch_size, shuffle=False))
    d = {"model": str(a.model), "split": a.split, **res}
    if a.json:
        print(json.dumps(d))
    else:
        print(
            f"{a.split}: {res['nats']:.1f} nats per sequence, SSE {res['sse']:.4f} per point "
            f"({res['sequences']:,} lines, {res['points']:,} points)"
        )
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    from genseq.hand.render import check_output, save_strokes
    from genseq.hand.sample import load_hand_model, sample_unconditional

    if a.steps < 1:
        raise GenseqError("--steps must be >= 1")
    check_output(a.output)
    if (a.data or a.line) and not a.figure:
        raise GenseqError("--data and --line choose a line for --figure")
    if bool(a.data) != bool(a.line):
        raise GenseqError("a real line needs both --data CACHE and --line ID")
    m = load_hand_model(a.model)
    if a.figure:
        return _sample_figure(a, m)
    pts = sample_unconditional(m, a.steps, a.bias, a.seed)
    save_strokes(a.output, pts)
    print(f"genseq: {a.steps} points -> {a.output}", file=sys.stderr)
    return 0


def _sample_figure(a: argparse.Namespace, m) -> int:
    from genseq.hand.data import HandCache
    from genseq.hand.figures import density_figure, line_phi_figure, save_figure
    from genseq.hand.sample import sample_unconditional

    if a.figure == "phi" and m.kind != "synth":
        raise GenseqError("--figure phi needs a synthesis model (the window is §5's)")
    bias = 0.0
    if a.line:
        cache = HandCache.load(a.data)
        i = cache.position(a.line)
        pts, text = m.stats.normalise(cache.raw(i)), cache.texts[i]  # the MODEL's normalisation
        what = f"line {a.line}"
        if m.kind == "synth" and not text:
            raise GenseqError(f"line {a.line} has no transcription for the synthesis net to read")
    elif m.kind != "predict":
        raise GenseqError("a synthesis model draws figures of a real line: give --data and --line")
    else:
        sample = sample_unconditional(m, a.steps, a.bias, a.seed)
        pts, text, bias = m.stats.normalise(sample), None, a.bias  # densities it was drawn from
        what = "a sample" + (f" (bias {a.bias:g})" if a.bias else "")
    if a.figure == "phi":
        title = f"Fig 13-style window weights φ(t, u), {what}: {text!r}"
        fig = line_phi_figure(m, pts, text, title)
    else:
        net = "Fig 10, prediction" if m.kind == "predict" else "Fig 14, synthesis"
        title = f"{net} net: predicted densities summed over {what} ({len(pts)} points)"
        if a.line and text:
            title += f": {text!r}"
        fig = density_figure(m, pts, text if m.kind == "synth" else None, bias, title)
    save_figure(fig, a.output)
    print(f"genseq: {a.figure} figure of {what} -> {a.output}", file=sys.stderr)
    return 0


def cmd_styles(a: argparse.Namespace) -> int:
    from genseq.hand import styles

    folder = Path(a.out) if a.out else styles.STYLES_DIR
    if a.make:
        if a.n < 1:
            raise GenseqError("--n must be >= 1")
        paths = styles.make_styles(a.make, folder, a.n, a.seed, a.bias, prime_data=a.prime_data)
        print(
            f"genseq: {len(paths)} candidate styles -> {folder} (look at candidates.png and "
            "delete the ones you do not want)"
        )
        return 0
    found = styles.list_builtin_styles(folder)
    if not found:
        print(
            f"no built-in styles in {folder}; use genseq write --style-from FILE, or make "
            "some: genseq hand styles --make MODEL"
        )
    for k, text, source in found:
        print(f"{k}: {text!r} ({source})")
    return 0


def _style(a: argparse.Namespace, m):
    """The (normalised strokes, text) to prime with (§5.5), or None."""
    from genseq.hand.styles import builtin_style, load_style_file

    if a.style_text is not None and a.style_from is None:
        raise GenseqError("--style-text goes with --style-from FILE")
    if a.style_from is None and a.style is None:
        return None
    if m.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    if a.style_from is not None:
        st = load_style_file(a.style_from, m.stats, a.style_text)
        what = f"the style in {a.style_from}"
    else:
        st = builtin_style(a.style, m.stats)
        what = f"built-in style {a.style}"
    bad = m.alphabet.missing(st.text)
    if bad:
        raise GenseqError(
            f"the text of {what} has characters the model cannot read: "
            f"{', '.join(repr(c) for c in bad)}"
        )
    return st.points, st.text


def cmd_write(a: argparse.Namespace) -> int:
    from genseq.hand.layout import gcode, plotter_svg
    from genseq.hand.render import check_output, save_strokes
    from genseq.hand.sample import load_hand_model
    from genseq.train.checkpoint import atomic_write_text

    text = sys.stdin.read() if a.text == "-" else a.text
    if a.width < 1:
        raise GenseqError("--width must be >= 1")
    if bool(a.figure) != bool(a.figure_out):
        raise GenseqError("--figure KIND and --figure-out FILE go together")
    out = Path(a.output)
    if a.format == "auto":
        check_output(out)
    if a.figure_out:
        check_output(a.figure_out)
    if not out.parent.is_dir():
        raise GenseqError(f"output folder not found: {out.parent}")
    m = load_hand_model(a.model)
    if a.figure_out:
        from genseq.hand.figures import FIGURE_SUFFIXES

        fo = Path(a.figure_out)
        if fo.suffix.lower() not in FIGURE_SUFFIXES or not fo.parent.is_dir():
            raise GenseqError(f"--figure-out must be a .png/.svg/.pdf in an existing folder: {fo}")
    style = _style(a, m)
    from genseq.hand.recognize.cli import legible_page

    page, syn = legible_page(a, m, text, style)
    if a.format == "plotter":
        atomic_write_text(out, plotter_svg(page))
    elif a.format == "gcode":
        atomic_write_text(out, gcode(page))
    else:
        save_strokes(out, page, absolute=True, color=a.color, stroke_width=a.stroke_width)
    print(f"genseq: wrote {len(text)} characters -> {out}", file=sys.stderr)
    if a.figure:
        from genseq.hand.figures import save_figure, synthesis_figure

        fig = synthesis_figure(m, syn, 0, a.figure, style[0] if style else None, a.bias)
        save_figure(fig, a.figure_out)
        print(f"genseq: {a.figure} figure of the first line -> {a.figure_out}", file=sys.stderr)
    return 0
