"""`genseq hand sample`: unconditional handwriting (§4), or the paper's figures of a network."""

from __future__ import annotations

import argparse
import sys

from genseq.cli.command import at_least, command
from genseq.errors import GenseqError
from genseq.hand.data import HandCache
from genseq.hand.render import check_output, save_strokes
from genseq.hand.sample import HandModel, load_hand_model, sample_unconditional


def add_sample(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    help = "unconditional handwriting from a prediction network (or a figure of it)"
    p = command(hs, cmd_sample, help)
    p.add_argument("--model", required=True, help="run directory or shipped model name")
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
    return p


def cmd_sample(a: argparse.Namespace) -> int:
    """Sample a line from a prediction network (§4). With --figure, draw the paper's figure
    instead: density (Fig 10: predicted densities summed over the line, and the mixture
    weights) of the sample, or of a real line with --data and --line; for a synthesis model
    and a real line, density (Fig 14) or phi (Fig 13: the window weights φ(t, u))."""
    at_least(a, 1, "steps")
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


def _sample_figure(a: argparse.Namespace, m: HandModel) -> int:
    from genseq.hand.figures import density_figure, line_phi_figure, save_figure  # matplotlib

    synth = m.alphabet is not None
    if a.figure == "phi" and not synth:
        raise GenseqError("--figure phi needs a synthesis model (the window is §5's)")
    bias = 0.0
    if a.line:
        cache = HandCache.load(a.data)
        i = cache.position(a.line)
        pts, text = m.stats.normalise(cache.raw(i)), cache.texts[i]  # the MODEL's normalisation
        what = f"line {a.line}"
        if synth and not text:
            raise GenseqError(f"line {a.line} has no transcription for the synthesis net to read")
    elif synth:
        raise GenseqError("a synthesis model draws figures of a real line: give --data and --line")
    else:
        sample = sample_unconditional(m, a.steps, a.bias, a.seed)
        pts, text, bias = m.stats.normalise(sample), None, a.bias  # densities it was drawn from
        what = "a sample" + (f" (bias {a.bias:g})" if a.bias else "")
    if a.figure == "phi":
        title = f"Fig 13-style window weights φ(t, u), {what}: {text!r}"
        fig = line_phi_figure(m, pts, text, title)
    else:
        net = "Fig 14, synthesis" if synth else "Fig 10, prediction"
        title = f"{net} net: predicted densities summed over {what} ({len(pts)} points)"
        if a.line and text:
            title += f": {text!r}"
        fig = density_figure(m, pts, text if synth else None, bias, title)
    save_figure(fig, a.output)
    print(f"genseq: {a.figure} figure of {what} -> {a.output}", file=sys.stderr)
    return 0
