"""Styles and files for the web app: previews of the built-in styles, a user's drawn line as
a `Style` (and as the style file `Style.from_file` reads), a page's strokes as SVG, plotter
SVG or G-code."""

from __future__ import annotations

from functools import cache

import numpy as np
from fastapi.responses import Response

from genseq.api import styles as builtin_styles
from genseq.errors import GenseqError
from genseq.hand.page import PEN_FORMATS
from genseq.hand.render import check_extent, strokes_to_svg
from genseq.hand.sample import HandModel
from genseq.hand.styles import Style
from genseq.web.limits import Limits
from genseq.web.schemas import ExportRequest, StyleLine, StyleOut

PREVIEW_PX = 400  # the larger side of a style preview
PREVIEW_STROKE = 1.0  # its pen width in pixels (as shown, whatever the size)
MEDIA = {
    "svg": ("image/svg+xml", "page.svg"),
    "plotter": ("image/svg+xml", "page-plotter.svg"),
    "gcode": ("text/plain", "page.gcode"),
}


def absolute_points(strokes: list[list[tuple[float, float]]]) -> np.ndarray:
    """Strokes of [x, y] (y down) -> (N, 3) absolute (x, y up, e), e = 1 ending each stroke."""
    rows = []
    for s in strokes:
        if not len(s):
            continue
        a = np.zeros((len(s), 3))
        a[:, 0], a[:, 1] = [p[0] for p in s], [-p[1] for p in s]
        a[-1, 2] = 1.0
        rows.append(a)
    return np.concatenate(rows) if rows else np.zeros((0, 3))


@cache
def builtin_previews() -> list[StyleOut]:
    """Every built-in style (`genseq.styles()`), drawn (once per process)."""
    out = []
    for k, st in enumerate(builtin_styles()):
        pts = st.offsets if st.offsets is not None else np.zeros((0, 3))
        svg = strokes_to_svg(
            pts, stats=st.norm, size=PREVIEW_PX, stroke_width=PREVIEW_STROKE, background=None
        )
        out.append(StyleOut(id=k, text=st.text, source=st.source, points=len(pts), preview_svg=svg))
    return out


def user_style(line: StyleLine, model: HandModel, lim: Limits) -> Style:
    """A drawn line -> a `Style`, within the limits and the model's alphabet (else one
    GenseqError saying why)."""
    n = sum(len(s) for s in line.strokes)
    if n > lim.max_style_points:
        raise GenseqError(
            f"the style line has {n:,} points; this server takes at most "
            f"{lim.max_style_points:,} (draw one line, or simplify it)"
        )
    if len(line.text) > lim.max_style_chars:
        raise GenseqError(
            f"the style's text has {len(line.text)} characters; at most {lim.max_style_chars}"
        )
    assert model.alphabet is not None
    bad = model.alphabet.missing(" ".join(line.text.split()))
    if bad:
        raise GenseqError(
            f"the style's text has characters the model cannot read: "
            f"{', '.join(repr(c) for c in bad)}"
        )
    return Style.from_strokes([list(s) for s in line.strokes], line.text, source="drawn")


def choose(style: int | StyleLine | None, model: HandModel, lim: Limits) -> Style | None:
    """A write request's `style` -> a `Style` (or None)."""
    if style is None:
        return None
    if isinstance(style, StyleLine):
        return user_style(style, model, lim)
    all_styles = builtin_styles()
    if not 0 <= style < len(all_styles):
        raise GenseqError(
            f"style: there is no built-in style {style}; there are {len(all_styles)}"
            + (f" (0 to {len(all_styles) - 1})" if all_styles else "")
        )
    return all_styles[style]


def user_style_out(line: StyleLine, model: HandModel, lim: Limits) -> StyleOut:
    """POST /api/styles: the checked line, its preview and its style file."""
    st = user_style(line, model, lim)
    strokes = [[(round(x, 2), round(y, 2)) for x, y in s] for s in line.strokes if len(s)]
    svg = strokes_to_svg(
        absolute_points(strokes),
        absolute=True,
        size=PREVIEW_PX,
        stroke_width=PREVIEW_STROKE,
        background=None,
    )
    n = sum(len(s) for s in strokes)
    file = StyleLine(text=st.text, strokes=strokes)
    return StyleOut(id=None, text=st.text, source=st.source, points=n, preview_svg=svg, file=file)


def export(req: ExportRequest, lim: Limits) -> Response:
    """POST /api/export: the strokes as a downloadable file."""
    n = sum(len(s) for s in req.strokes)
    if n > lim.max_export_points:
        raise GenseqError(f"the page has {n:,} points; at most {lim.max_export_points:,}")
    pts = absolute_points(req.strokes)
    if not len(pts):
        raise GenseqError("strokes: the page has no points")
    check_extent(pts[:, :2], "strokes: the page")
    if req.format == "svg":
        body = strokes_to_svg(pts, absolute=True, color=req.color, stroke_width=req.stroke_width)
    else:
        body = PEN_FORMATS[req.format](pts)
    media, filename = MEDIA[req.format]
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media, headers=headers)
