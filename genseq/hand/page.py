"""A page of handwriting: `write_page` word-wraps text, writes every line in one batch with a
synthesis network (§5) and lays the lines out; the `Page` draws itself as SVG, PNG/PDF,
plotter SVG or G-code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.layout import compose_page, gcode, plotter_svg, wrap
from genseq.hand.render import check_output, save_strokes, strokes_to_svg
from genseq.hand.sample import HandModel, check_length, generator, synthesize_text
from genseq.hand.sampling import Synthesis
from genseq.hand.strokes import split_strokes
from genseq.hand.styles import Style
from genseq.train.checkpoint import atomic_write_text

DEFAULT_WIDTH = 40  # characters per line
PEN_FORMATS = {"plotter": plotter_svg, "gcode": gcode}  # format -> absolute points -> text
PEN_SUFFIXES = {".gcode": "gcode", ".nc": "gcode"}


@dataclass(eq=False)
class Page:
    """Handwritten text laid out as a page."""

    lines: list[str]  # the wrapped lines, top to bottom ("" = a paragraph break)
    points: np.ndarray  # (N, 3) absolute pen points (x, y, e), y up; e = 1 lifts the pen
    synthesis: Synthesis  # the network's output for the non-empty lines (φ, stop flags)

    @property
    def strokes(self) -> list[np.ndarray]:
        """The pen strokes, each (n, 2) absolute (x, y), y up."""
        return split_strokes(self.points)

    def svg(self, color: str = "black", stroke_width: float = 2.0) -> str:
        """The page as an SVG document (one path per stroke)."""
        return strokes_to_svg(self.points, absolute=True, color=color, stroke_width=stroke_width)

    def save(
        self,
        path: str | Path,
        format: str | None = None,
        color: str = "black",
        stroke_width: float = 2.0,
    ) -> Path:
        """Write the page; the format comes from `format` ("plotter": one single-stroke SVG
        path in mm with pen-up moves; "gcode") or else from the suffix (.svg; .png, .pdf,
        .jpg; .gcode). Returns the path."""
        path = Path(path)
        fmt = format or PEN_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            return save_strokes(
                path, self.points, absolute=True, color=color, stroke_width=stroke_width
            )
        if fmt not in PEN_FORMATS:
            raise GenseqError(f"unknown format {fmt!r}: use {', '.join(PEN_FORMATS)} or none")
        if not path.parent.is_dir():
            raise GenseqError(f"output folder not found: {path.parent}")
        atomic_write_text(path, PEN_FORMATS[fmt](self.points))
        return path


def check_page_output(path: str | Path, format: str | None = None) -> Path:
    """Fail fast (before any sampling) on a path `Page.save` cannot write."""
    path = Path(path)
    if format is None and path.suffix.lower() not in PEN_SUFFIXES:
        return check_output(path)
    if not path.parent.is_dir():
        raise GenseqError(f"output folder not found: {path.parent}")
    return path


def write_page(
    model: HandModel,
    text: str,
    width: int = DEFAULT_WIDTH,
    bias: float = 0.0,
    style: Style | None = None,
    seed: int | None = None,
    strict: bool = False,
    write_lines: Callable[[list[str]], Synthesis] | None = None,
    precision: str = "fp32",
) -> Page:
    """Word-wrap `text` into lines of <= `width` characters (blank lines kept as paragraph
    breaks), write them as one batch (bias: eqs 61-62; style: §5.5) and lay them out.
    strict: refuse characters the model lacks instead of folding them (genseq.hand.fold).
    write_lines: how the non-empty lines become a `Synthesis` (default: `synthesize_text`,
    one try each; e.g. the best-read of several, genseq.hand.recognize.legibility).
    precision: the sampler's GEMMs (`synthesize_text`)."""
    check_length(len(text))
    if not text.strip():
        raise GenseqError("nothing to write: the text is empty")
    if width < 1:
        raise GenseqError(f"the width must be >= 1 character, got {width}")
    lines = wrap(text, width)
    nonempty = [s for s in lines if s.strip()]
    if write_lines is None:
        syn = synthesize_text(
            model, nonempty, bias, style, generator(seed), strict=strict, precision=precision
        )
    else:
        syn = write_lines(nonempty)
    written = iter(model.stats.denormalise(s.numpy()) for s in syn.strokes)
    per_line = [next(written) if s.strip() else None for s in lines]
    points = compose_page([w if w is not None and len(w) else None for w in per_line])
    return Page(lines, points, syn)
