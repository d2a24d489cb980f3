"""`genseq write "TEXT"`: handwriting (§5) to SVG, PNG, plotter SVG or G-code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genseq.api import write
from genseq.cli.command import at_least, command
from genseq.cli.recognize import add_legible_flags, legible_page
from genseq.errors import GenseqError
from genseq.hand.page import check_page_output
from genseq.hand.render import FIGURE_SUFFIXES, check_output
from genseq.hand.sample import load_hand_model
from genseq.hand.styles import Style, builtin_style
from genseq.nn.precision import PRECISIONS


def add_write_command(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    help = "write text in handwriting (§5) to SVG/PNG"
    p = command(sub, cmd_write, help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("text", help="the text; '-' reads it from standard input")
    p.add_argument(
        "--model", default="synth", help="synthesis model: a shipped name or a run directory"
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
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="the sampler's GEMMs: bf16 (or auto: bf16 where the CPU has it) samples about "
        "1.5x as fast on an AVX512-BF16 CPU, with bf16 rounding (other strokes for a seed)",
    )
    p.add_argument(
        "--format",
        choices=["auto", "plotter", "gcode"],
        default="auto",
        help="plotter: one single-stroke SVG path with pen-up moves",
    )
    p.add_argument("--strict", action="store_true", help="refuse characters the model lacks "
                   "instead of folding them (é → e, “ → \")")  # fmt: skip
    add_style_flags(p)
    g = p.add_argument_group("figures (of the first line)")
    g.add_argument(
        "--figure",
        choices=["phi", "density"],
        default=None,
        help="phi: Fig 13, the window weights φ(t, u); density: Fig 14, the predicted "
        "densities and mixture weights",
    )
    g.add_argument("--figure-out", metavar="FILE", default=None, help="the figure's .png/.svg/.pdf")
    add_legible_flags(p.add_argument_group("legibility (issue 13)"))
    return p


def add_style_flags(p: argparse.ArgumentParser) -> None:
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


def _style(a: argparse.Namespace) -> Style | None:
    """The style to write like (§5.5), or None."""
    if a.style_text is not None and a.style_from is None:
        raise GenseqError("--style-text goes with --style-from FILE")
    if a.style_from is not None:
        return Style.from_file(a.style_from, a.style_text)
    return builtin_style(a.style) if a.style is not None else None


def _check_paths(a: argparse.Namespace, fmt: str | None) -> Path:
    """Every output path is writable, before any model is loaded."""
    at_least(a, 1, "width")
    if bool(a.figure) != bool(a.figure_out):
        raise GenseqError("--figure KIND and --figure-out FILE go together")
    out = check_page_output(a.output, fmt)
    if a.figure_out:
        fo = check_output(a.figure_out)
        if fo.suffix.lower() not in FIGURE_SUFFIXES:
            raise GenseqError(f"--figure-out must be a .png/.svg/.pdf in an existing folder: {fo}")
    return out


def cmd_write(a: argparse.Namespace) -> int:
    """Write text in handwriting with a synthesis network (§5): word-wrapped, every line in
    one batch, laid out as a page; optionally in a style (§5.5), with a figure of the first
    line."""
    text = sys.stdin.read() if a.text == "-" else a.text
    fmt = None if a.format == "auto" else a.format
    out = _check_paths(a, fmt)
    m = load_hand_model(a.model)
    if m.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    style = _style(a)
    at_least(a, 1, "legible")
    if a.legible > 1:
        page = legible_page(a, m, text, style)
    else:
        page = write(text, model=m, style=style, bias=a.bias, width=a.width, seed=a.seed,
                     strict=a.strict, precision=a.precision)  # fmt: skip
    page.save(out, fmt, color=a.color, stroke_width=a.stroke_width)
    print(f"genseq: wrote {len(text)} characters -> {out}", file=sys.stderr)
    if a.figure:
        from genseq.hand.figures import save_figure, synthesis_figure  # matplotlib: when asked

        prime = style.offsets_for(m.stats) if style is not None else None
        fig = synthesis_figure(m, page.synthesis, 0, a.figure, prime, a.bias)
        save_figure(fig, a.figure_out)
        print(f"genseq: {a.figure} figure of the first line -> {a.figure_out}", file=sys.stderr)
    return 0
