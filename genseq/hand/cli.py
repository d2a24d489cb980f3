"""`genseq hand ...`: handwriting commands. Each command = an `add_*` function that declares
its arguments and a `cmd_*` handler; other modules add theirs to the `hand` group through
`register`'s return value or the module-level `HAND_COMMANDS`."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from genseq.errors import GenseqError

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
    add_prepare(hs)
    add_show(hs)
    from genseq.hand.commands import add_model_commands

    add_model_commands(hs)
    HAND_COMMANDS = hs
    return hs


def default_iam_dir() -> Path | None:
    env = os.environ.get("GENSEQ_DATA")
    return Path(env) / "iamondb" if env else None


# --- prepare ------------------------------------------------------------------------------
def add_prepare(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = hs.add_parser(
        "prepare",
        help="parse the official IAM-OnDB archives into one training cache",
        description="Read lineStrokes-all.tar.gz + ascii-all.tar.gz (or their unpacked trees) "
        "and splits/, write one .npz cache and print a summary.",
    )
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
    p.set_defaults(func=cmd_prepare)
    return p


def cmd_prepare(args: argparse.Namespace) -> int:
    from genseq.hand.clean import PaperClean
    from genseq.hand.data import build_cache, cache_summary
    from genseq.hand.iamondb import read_iamondb
    from genseq.hand.strokes import CleanConfig

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
    p = hs.add_parser(
        "show",
        help="draw one prepared line (SVG or PNG)",
        description="Draw one line of a prepared cache with its text as title.",
    )
    p.add_argument("--data", type=Path, required=True, help="cache from `genseq hand prepare`")
    p.add_argument("--line", default=None, help="line id, e.g. a01-000u-01 (default: the first)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .svg or .png")
    p.add_argument("--color", default="black")
    p.add_argument("--width", type=float, default=2.0, help="stroke width (pixels)")
    p.set_defaults(func=cmd_show)
    return p


def cmd_show(args: argparse.Namespace) -> int:
    from genseq.hand.data import HandCache
    from genseq.hand.render import save_strokes

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
