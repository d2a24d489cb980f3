"""`genseq hand train|eval|sample` and `genseq write`: the networks' commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genseq.errors import GenseqError


def add_model_commands(hs: argparse._SubParsersAction) -> None:
    from genseq.text.cli import add_train_flags

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
    p.set_defaults(func=cmd_eval)

    p = hs.add_parser("sample", help="unconditional handwriting from a prediction network")
    p.add_argument("--model", required=True)
    p.add_argument("--steps", type=int, default=700)
    p.add_argument("--bias", type=float, default=0.0, help="eqs 61–62; 0 = unbiased")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("-o", "--output", required=True, help="FILE.svg or FILE.png")
    p.set_defaults(func=cmd_sample)


def add_write_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "write",
        help="write text in handwriting (§5) to SVG/PNG",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("text", help="the text; '-' reads it from standard input")
    p.add_argument("--model", required=True, help="synthesis model directory")
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
    from genseq.train.checkpoint import load_tensors, model_class
    from genseq.train.trainer import Trainer

    cfg = train_config(a)
    out = Path(a.out)
    if a.resume:
        _, meta = load_tensors(out / "checkpoint.safetensors")
        saved = meta.get("config", {})
        task, batch, crop = saved["kind"], saved["batch_size"], saved.get("crop_len", 0)
        train, valid = _datasets(a.data, task, Alphabet.from_json(saved["alphabet"]))
        model = model_class(task).from_config(saved["model"])
    else:
        task, batch, crop = a.task, a.batch_size, a.crop_len
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
        "data": str(a.data),
    }
    print(
        f"genseq: {task}: {len(train):,} training / {len(valid):,} validation lines; "
        f"model {count_parameters(model):,} weights; {len(batches):,} updates per epoch",
        file=sys.stderr,
    )
    htask = HandTask(batches, vbatches, eval_batches=a.eval_batches)
    res = Trainer(model, htask, cfg, out, extra, progress=not a.no_progress).fit(resume=a.resume)
    print(
        f"genseq: {res['step']} updates, best validation {res['best']:.1f} nats per line; "
        f"model in {out}",
        file=sys.stderr,
    )
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from genseq.hand.data import HandBatches, HandCache, HandDataset
    from genseq.hand.sample import load_hand_model
    from genseq.hand.task import evaluate

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
    from genseq.hand.render import save_strokes
    from genseq.hand.sample import load_hand_model, sample_unconditional

    if a.steps < 1:
        raise GenseqError("--steps must be >= 1")
    m = load_hand_model(a.model)
    pts = sample_unconditional(m, a.steps, a.bias, a.seed)
    save_strokes(a.output, pts)
    print(f"genseq: {a.steps} points -> {a.output}", file=sys.stderr)
    return 0


def cmd_write(a: argparse.Namespace) -> int:
    from genseq.hand.layout import gcode, plotter_svg
    from genseq.hand.render import save_strokes
    from genseq.hand.sample import load_hand_model, write_page
    from genseq.train.checkpoint import atomic_write_text

    text = sys.stdin.read() if a.text == "-" else a.text
    if a.width < 1:
        raise GenseqError("--width must be >= 1")
    m = load_hand_model(a.model)
    out = Path(a.output)
    if not out.parent.is_dir():
        raise GenseqError(f"output folder not found: {out.parent}")
    page = write_page(m, text, a.width, a.bias, seed=a.seed)
    if a.format == "plotter":
        atomic_write_text(out, plotter_svg(page))
    elif a.format == "gcode":
        atomic_write_text(out, gcode(page))
    else:
        save_strokes(out, page, absolute=True, color=a.color, stroke_width=a.stroke_width)
    print(f"genseq: wrote {len(text)} characters -> {out}", file=sys.stderr)
    return 0
