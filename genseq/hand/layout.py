"""Page layout for `genseq write`: word-wrap text into lines, then stack the handwritten lines
into one page; plus pen-plotter output (one single-stroke SVG path with pen-up moves, or G-code).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from genseq.hand.strokes import split_strokes, to_absolute


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap into lines of at most `width` characters (a longer word is split); blank lines
    in the input are kept as paragraph breaks (an empty line)."""
    if width < 1:
        raise ValueError("width must be >= 1")
    lines: list[str] = []
    for para in text.replace("\r\n", "\n").split("\n"):
        para = " ".join(para.split())
        lines.extend(textwrap.wrap(para, width, break_on_hyphens=False) if para else [""])
    while lines and not lines[-1]:
        lines.pop()
    return lines


def compose_page(
    lines: Sequence[np.ndarray | None], line_gap: float = 1.5, height: float | None = None
) -> np.ndarray:
    """Stack handwritten lines (offsets (N,3), de-normalised; None = an empty line) top to
    bottom into one array of absolute points (x, y, e), y up, every line starting at x = 0.

    The line pitch is `line_gap` times `height`, by default the median line height."""
    abs_lines = [to_absolute(p) if p is not None and len(p) else None for p in lines]
    heights = [float(np.ptp(a[:, 1])) for a in abs_lines if a is not None]
    pitch = line_gap * (height or (float(np.median(heights)) if heights else 1.0) or 1.0)
    out = []
    for k, a in enumerate(abs_lines):
        if a is None:
            continue
        a = a.copy()
        a[:, 0] -= a[:, 0].min()
        a[:, 1] += -k * pitch - np.median(a[:, 1])  # centre each line on its own row
        a[-1, 2] = 1.0  # lift the pen at the end of a line
        out.append(a)
    return np.concatenate(out) if out else np.zeros((0, 3))


def _scaled_strokes(absolute: np.ndarray, width_mm: float, margin_mm: float) -> list[np.ndarray]:
    strokes = split_strokes(absolute)
    if not strokes:
        return []
    allp = np.concatenate(strokes)
    lo, hi = allp.min(0), allp.max(0)
    scale = (width_mm - 2 * margin_mm) / max(hi[0] - lo[0], 1e-9)
    # to mm with y down (SVG / plotter bed), origin at the top-left margin
    return [
        np.stack([(s[:, 0] - lo[0]) * scale + margin_mm, (hi[1] - s[:, 1]) * scale + margin_mm], 1)
        for s in strokes
    ]


def plotter_svg(absolute: np.ndarray, width_mm: float = 200.0, margin_mm: float = 10.0) -> str:
    """One `<path>`: `M` is a pen-up move, `L` a pen-down line; sized in millimetres, no fill,
    the form pen-plotter tools (e.g. vpype, AxiDraw) take."""
    strokes = _scaled_strokes(absolute, width_mm, margin_mm)
    h = max((float(s[:, 1].max()) for s in strokes), default=0.0) + margin_mm
    d = " ".join(
        f"M{s[0, 0]:.2f},{s[0, 1]:.2f} " + " ".join(f"L{x:.2f},{y:.2f}" for x, y in s[1:])
        for s in strokes
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:g}mm" height="{h:.1f}mm" '
        f'viewBox="0 0 {width_mm:g} {h:.1f}">\n'
        f'<path d="{d}" fill="none" stroke="black" stroke-width="0.3"/>\n</svg>\n'
    )


def gcode(
    absolute: np.ndarray,
    width_mm: float = 200.0,
    margin_mm: float = 10.0,
    pen_up: str = "G0 Z5",
    pen_down: str = "G1 Z0 F1000",
    feed: int = 3000,
) -> str:
    """G-code for a pen plotter: pen up, travel (G0), pen down, draw (G1), per stroke."""
    out = ["G21 ; mm", "G90 ; absolute", pen_up]
    for s in _scaled_strokes(absolute, width_mm, margin_mm):
        out.append(f"G0 X{s[0, 0]:.2f} Y{-s[0, 1]:.2f}")
        out.append(pen_down)
        out += [f"G1 X{x:.2f} Y{-y:.2f} F{feed}" for x, y in s[1:]]
        out.append(pen_up)
    out.append("G0 X0 Y0")
    return "\n".join(out) + "\n"
