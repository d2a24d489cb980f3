"""`genseq hand ...`: handwriting commands. Each command = an `add_*` function that declares
its arguments and a `cmd_*` handler; other modules add theirs to the `hand` group through
`register`'s return value or the module-level `HAND_COMMANDS`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from genseq.cli.command import at_least, command
from genseq.cli.hand_sample import add_sample
from genseq.cli.hand_train import add_train
from genseq.cli.recognize import add_recognizer_commands
from genseq.cli.train_flags import add_precision_flag
from genseq.errors import GenseqError
from genseq.hand import make_styles, styles
from genseq.hand.clean import PaperClean
from genseq.hand.data import HandBatches, HandCache, HandDataset, build_cache, cache_summary
from genseq.hand.iamondb import default_iam_dir, read_iamondb
from genseq.hand.render import save_strokes
from genseq.hand.sample import load_hand_model
from genseq.hand.strokes import CleanConfig
from genseq.hand.task import evaluate
from genseq.nn.precision import autocast

HAND_COMMANDS: argparse._SubParsersAction | None = None  # the `hand` group, once registered


def register(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add `hand` to the top-level sub-commands; return its own sub-command group."""
    global HAND_COMMANDS
    p = sub.add_parser(
        "hand",
        help="handwriting (IAM-OnDB): prepare, show, ...",
        description="Handwriting prediction and synthesis (Graves 2013, §4-5).",
    )
    hs = p.add_subparsers(dest="hand_command", metavar="COMMAND", required=True)
    for add in (add_prepare, add_show, add_train, add_eval, add_sample, add_styles):
        add(hs)
    add_recognizer_commands(hs)
    HAND_COMMANDS = hs
    return hs


# --- prepare ------------------------------------------------------------------------------
def add_prepare(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = command(hs, cmd_prepare, "parse the official IAM-OnDB archives into one training cache")
    p.add_argument(
        "--iam",
        type=Path,
        default=None,
        help="folder with the official files (default: $GENSEQ_DATA/iamondb)",
    )
    p.add_argument("--out", type=Path, required=True, help="cache file to write (.npz)")
    p.add_argument("--workers", type=int, default=2, help="XML parsing processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--min-points", type=int, default=None, help="drop shorter lines")
    p.add_argument(
        "--max-jump", type=float, default=None, help="drop lines with a larger offset (board units)"
    )
    p.add_argument(
        "--clean",
        action="append",
        default=[],
        metavar="STEP",
        help="paper: §4's correction of recording errors (fill missing readings, remove long "
        "pen-down steps; genseq.hand.clean); or an extra step (not in the paper), e.g. "
        "dedupe; repeatable",
    )
    return p


def cmd_prepare(args: argparse.Namespace) -> int:
    """Read lineStrokes-all.tar.gz + ascii-all.tar.gz (or their unpacked trees) and splits/,
    write one .npz cache and print a summary."""
    iam = args.iam or default_iam_dir()
    if iam is None:
        raise GenseqError("no IAM-OnDB folder: give --iam DIR or set GENSEQ_DATA")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise GenseqError(f"--out must end in .npz: {out}")
    if not out.parent.is_dir():
        raise GenseqError(f"output folder not found: {out.parent}")
    overrides = {
        k: v
        for k, v in (("min_points", args.min_points), ("max_jump", args.max_jump))
        if v is not None
    }
    paper = PaperClean() if "paper" in args.clean else None
    extra = tuple(s for s in args.clean if s != "paper")
    cfg = CleanConfig(extra=extra, paper=paper, **overrides)

    t0 = time.perf_counter()
    db = read_iamondb(iam, workers=args.workers, progress=not args.quiet)
    t1 = time.perf_counter()
    cache = build_cache(db, cfg)
    cache.save(out)
    t2 = time.perf_counter()
    print(cache_summary(cache))
    print(
        f"parsed in {t1 - t0:.1f} s, cleaned + saved in {t2 - t1:.1f} s -> {out} "
        f"({out.stat().st_size / 2**20:.1f} MiB)"
    )
    return 0


# --- show ---------------------------------------------------------------------------------
def add_show(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = command(hs, cmd_show, "draw one prepared line (SVG or PNG)")
    p.add_argument("--data", type=Path, required=True, help="cache from `genseq hand prepare`")
    p.add_argument("--line", default=None, help="line id, e.g. a01-000u-01 (default: the first)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .svg or .png")
    p.add_argument("--color", default="black")
    p.add_argument("--width", type=float, default=2.0, help="stroke width (pixels)")
    return p


def cmd_show(args: argparse.Namespace) -> int:
    """Draw one line of a prepared cache with its text as title."""
    cache = HandCache.load(args.data)
    i = cache.position(args.line) if args.line else 0
    path = save_strokes(
        args.out, cache.raw(i), cache.texts[i], color=args.color, stroke_width=args.width
    )
    print(
        f"{cache.ids[i]} ({cache.splits[i]}, {len(cache.raw(i))} points): "
        f"{cache.texts[i]!r} -> {path}"
    )
    return 0


# --- eval ---------------------------------------------------------------------------------
def add_eval(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = command(hs, cmd_eval, "validation nats per sequence and SSE (Tables 3–4)")
    p.add_argument("--model", required=True, help="run directory or shipped model name")
    p.add_argument("--data", required=True, help="the cache")
    p.add_argument("--split", default="valid", help="valid (testset_v), train, or a split name")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_precision_flag(p)
    return p


def cmd_eval(a: argparse.Namespace) -> int:
    """A handwriting model's mean loss per line L(x) in nats (eq 26, Tables 3-4) and SSE per
    point on a split of a prepared cache, with the model's own normalisation."""
    m = load_hand_model(a.model)
    if not Path(a.data).is_file():
        raise GenseqError(f"no such cache: {a.data}")
    ds = HandDataset(
        HandCache.load(a.data),
        a.split,
        alphabet=m.alphabet or "full",
        require_text=m.alphabet is not None,
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


# --- styles -------------------------------------------------------------------------------
def add_styles(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    help = "list the built-in styles of `genseq write --style K`, or make candidates"
    p = command(hs, cmd_styles, help)
    p.add_argument("--make", metavar="MODEL", default=None, help="synthesis model (dir or name)")
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
    return p


def cmd_styles(a: argparse.Namespace) -> int:
    """List the built-in handwriting styles (§5.5 primed sampling). With --make, sample
    candidate style lines with a trained synthesis model into --out, with a contact sheet
    candidates.png; keep the good ones."""
    folder = Path(a.out) if a.out else styles.STYLES_DIR
    if a.make:
        at_least(a, 1, "n")
        paths = make_styles.make_styles(
            a.make, folder, a.n, a.seed, a.bias, prime_data=a.prime_data
        )
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
