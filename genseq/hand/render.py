"""Draw pen strokes: SVG (pure strings) and PNG/PDF (matplotlib, Agg backend).

Input everywhere: points (N, 3) as offsets (Δx, Δy, e) — the network representation (§4) —
or, with absolute=True, as absolute (x, y, e); e > 0.5 ends a stroke. y points up (see
genseq.hand.strokes). Pass `stats` (NormStats) to draw normalised offsets in board units.
numpy arrays, torch tensors and nested lists are accepted.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.strokes import NormStats, split_strokes, to_absolute
from genseq.limits import MAX_STYLE_COORD

SVG_SUFFIXES = (".svg",)
MPL_SUFFIXES = (".png", ".pdf", ".jpg", ".jpeg")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")  # what `genseq.hand.figures.save_figure` writes


def _as_numpy(points) -> np.ndarray:
    if hasattr(points, "detach"):  # torch.Tensor
        points = points.detach().cpu().numpy()
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise GenseqError(f"expected points of shape (N, 3), got {p.shape}")
    return p


def strokes_of(
    points, *, absolute: bool = False, stats: NormStats | None = None
) -> list[np.ndarray]:
    """Points (N, 3) -> list of absolute (n, 2) strokes, y up."""
    p = _as_numpy(points)
    if stats is not None and not absolute:
        p = stats.denormalise(p)
    return split_strokes(p if absolute else to_absolute(p))


def check_extent(xy, what: str = "the drawing") -> None:
    """Refuse coordinates (an array of x, y values, any shape) that are not finite or beyond
    ±MAX_STYLE_COORD: past it a drawing's span overflows a float (inf, nan). The one home of
    this check, for the writers here, a user's style and the web export; `what` names it."""
    a = np.asarray(xy, np.float64)
    if a.size and (not np.isfinite(a).all() or np.abs(a).max() > MAX_STYLE_COORD):
        raise GenseqError(f"{what} has coordinates beyond ±{MAX_STYLE_COORD:g}")


def _bbox(strokes: list[np.ndarray]) -> tuple[float, float, float, float]:
    if not strokes:
        return 0.0, 0.0, 1.0, 1.0
    a = np.concatenate(strokes)
    check_extent(a)
    (x0, y0), (x1, y1) = a.min(0), a.max(0)
    return float(x0), float(y0), float(x1), float(y1)


def strokes_to_svg(
    points,
    *,
    absolute: bool = False,
    stats: NormStats | None = None,
    color: str = "black",
    stroke_width: float = 2.0,
    size: float = 1000.0,
    title: str | None = None,
    background: str | None = "white",
) -> str:
    """An SVG document, one `<path>` per stroke, tight viewBox (+ a small margin).

    size: pixels of the larger side of the drawing; stroke_width: in pixels (non-scaling).
    title: drawn above the strokes and stored as the SVG <title>."""
    strokes = strokes_of(points, absolute=absolute, stats=stats)
    x0, y0, x1, y1 = _bbox(strokes)
    w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    scale = size / max(w, h)  # px per board unit
    pad = (stroke_width + 0.02 * size) / scale
    font = 18.0 / scale
    top = 1.6 * font if title else 0.0
    # SVG y grows downwards: plot (x, -y)
    vb = (x0 - pad, -y1 - pad - top, w + 2 * pad, h + 2 * pad + top)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{vb[2] * scale:.0f}" height="{vb[3] * scale:.0f}" '
        f'viewBox="{vb[0]:.6g} {vb[1]:.6g} {vb[2]:.6g} {vb[3]:.6g}">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    if background:
        out.append(
            f'<rect x="{vb[0]:.6g}" y="{vb[1]:.6g}" width="{vb[2]:.6g}" '
            f'height="{vb[3]:.6g}" fill="{escape(background)}"/>'
        )
    if title:
        out.append(
            f'<text x="{x0:.6g}" y="{-y1 - pad - 0.4 * font:.6g}" '
            f'font-family="sans-serif" font-size="{font:.6g}" fill="#444">'
            f"{escape(title)}</text>"
        )
    out.append(
        f'<g fill="none" stroke="{escape(color)}" stroke-width="{stroke_width:g}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    for s in strokes:
        s = s * [1.0, -1.0] + 0.0  # SVG y grows downwards (+ 0.0: no "-0")
        d = f"M{s[0, 0]:.6g} {s[0, 1]:.6g}"
        d += "".join(f"L{x:.6g} {y:.6g}" for x, y in s[1:]) if len(s) > 1 else "l0 0"
        out.append(f'<path vector-effect="non-scaling-stroke" d="{d}"/>')
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def plot_strokes(
    ax,
    points,
    *,
    absolute: bool = False,
    stats: NormStats | None = None,
    color: str = "black",
    linewidth: float = 1.0,
) -> None:
    """Draw onto a matplotlib Axes (equal aspect, no axis frame)."""
    for s in strokes_of(points, absolute=absolute, stats=stats):
        if len(s) == 1:
            ax.plot(s[:, 0], s[:, 1], ".", color=color, markersize=linewidth * 2)
        else:
            ax.plot(
                s[:, 0],
                s[:, 1],
                "-",
                color=color,
                linewidth=linewidth,
                solid_capstyle="round",
                solid_joinstyle="round",
            )
    ax.set_aspect("equal")
    ax.axis("off")


def check_output(path: str | Path) -> Path:
    """Fail fast (before any sampling) on an output path `save_strokes` cannot write."""
    path = Path(path)
    if path.suffix.lower() not in SVG_SUFFIXES + MPL_SUFFIXES:
        raise GenseqError(
            f"cannot draw to {path.name}: use one of {', '.join(SVG_SUFFIXES + MPL_SUFFIXES)}"
        )
    if not path.parent.is_dir():
        raise GenseqError(f"output folder not found: {path.parent}")
    return path


def save_strokes(
    path: str | Path,
    points,
    text: str | None = None,
    *,
    absolute: bool = False,
    stats: NormStats | None = None,
    color: str = "black",
    stroke_width: float = 2.0,
    dpi: int = 100,
) -> Path:
    """Write the strokes to `path`; the format comes from the suffix (.svg, or .png/.pdf/.jpg
    through matplotlib); `text` becomes the title."""
    path = check_output(path)
    suffix = path.suffix.lower()
    if suffix in SVG_SUFFIXES:
        svg = strokes_to_svg(
            points,
            absolute=absolute,
            stats=stats,
            color=color,
            stroke_width=stroke_width,
            title=text,
        )
        path.write_text(svg, encoding="utf-8")
        return path

    from matplotlib.figure import Figure  # no pyplot: renders headless (Agg) in any process

    x0, y0, x1, y1 = _bbox(strokes_of(points, absolute=absolute, stats=stats))
    aspect = max(x1 - x0, 1e-9) / max(y1 - y0, 1e-9)
    width = 12.0
    height = float(np.clip(width / aspect, 1.0, 12.0)) + (0.5 if text else 0.0)
    fig = Figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_subplot()
    plot_strokes(
        ax, points, absolute=absolute, stats=stats, color=color, linewidth=stroke_width * 0.75
    )
    if text:
        ax.set_title(text, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, facecolor="white")
    return path
