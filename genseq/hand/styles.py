"""Handwriting styles for primed sampling (Graves 2013, §5.5).

To write text s in the style of a line x with text c, the synthesis network reads x clamped
with the string c + s and then writes freely after x's last point (`SynthesisNet.synthesize`
with `prime=`). A `Style` is that (x, c); `Style.offsets_for(stats)` gives x as normalised
offsets (Δx, Δy, e) in the network representation of §4, for a model with `NormStats` stats.

Sources:
- a user's own line: `Style.from_file` (JSON or SVG in arbitrary screen units, y down) or
  `Style.from_strokes` (pen coordinates from code);
- built-ins (`builtin_styles`): JSON files in genseq/pretrained/styles/, lines that a trained
  network wrote itself (`genseq.hand.make_styles`). No IAM-OnDB data is shipped.

User file formats (absolute pen coordinates, y down like a screen):
    {"text": "...", "points": [[x, y, eos], ...]}     eos = 1 on a stroke's last point
    {"text": "...", "strokes": [[[x, y], ...], ...]}  one list of points per stroke
    SVG (`genseq.hand.svg`): <path d> (M/L/H/V/C/S/Q/T/Z, absolute or relative; each subpath
         is a stroke; béziers are sampled into points), <polyline>, <polygon>, <line>, in
         document order, with `transform`s applied; the text is the first <title> unless
         given explicitly.
genseq's own style files (`make_styles`) hold normalised offsets and their "norm" instead.

Scale (our choice, not in the paper): user coordinates are arbitrary and the network only
knows IAM-OnDB's board units, so `user_line_to_offsets`
1. scales the line so that its core height (the 10th-90th percentile range of y over the
   pen-down trace, measured on an evenly resampled copy so the point density does not matter)
   equals CORE_HEIGHT_STD x the model's std of Δy, and
2. resamples every stroke evenly along its length with a step of STEP_STD x std of Δy.
Both constants were measured on the IAM-OnDB training lines (std Δy = 37.1 board units):
median core height 259 units = 6.97 std, mean pen-down step 20.4 units = 0.55 std. Taking them
relative to the model's own statistics keeps them right for any cache the model was trained
on (e.g. one with other units).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.render import check_extent
from genseq.hand.strokes import NormStats, to_offsets
from genseq.hand.svg import strokes_from_svg
from genseq.limits import MAX_STYLE_BYTES, MAX_STYLE_POINTS

STYLES_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "styles"
CORE_HEIGHT_STD = 7.0  # IAM training lines: median 10-90% y range = 6.97 x std(Δy)
STEP_STD = 0.55  # IAM training lines: mean pen-down step = 0.55 x std(Δy)


@dataclass(eq=False)
class Style:
    """A line to write like (§5.5): the text it reads and its pen trajectory, either a user's
    absolute `strokes` (any units, y down) or a network's normalised `offsets` (P, 3) with
    the statistics `norm` they were normalised with (None: use them as they are)."""

    text: str
    strokes: list[np.ndarray] | None = None
    offsets: np.ndarray | None = None
    norm: NormStats | None = None
    source: str = ""

    @classmethod
    def from_strokes(cls, points: Any, text: str, source: str = "") -> Style:
        """A line from pen coordinates (y down, any units): an (N, 3) array of [x, y, eos]
        (eos = 1 on a stroke's last point) or a list of (n, 2) strokes; `text` is what it
        reads."""
        text = " ".join(str(text).split())
        if not text:
            raise GenseqError("the style has no text: say what the line reads")
        return cls(text, _checked(_as_strokes(points)), source=source)

    @classmethod
    def from_file(cls, path: str | Path, text: str | None = None) -> Style:
        """A line from a JSON or SVG file (see the module docstring); `text` overrides the
        file's text."""
        strokes, file_text, own = read_pen_file(path)
        if own is not None:  # genseq's own style file (`make_styles`): normalised offsets
            st = _own_style(own, str(path), path)
            return st if text is None else replace(st, text=" ".join(text.split()))
        text = text if text is not None else file_text
        if not text.strip():
            raise GenseqError(
                f'{path}: the style has no text: say what it reads (JSON "text", an SVG '
                "<title>, or --style-text)"
            )
        try:
            return cls.from_strokes(strokes, text, str(path))
        except GenseqError as e:
            raise GenseqError(f"cannot use the style file {path}: {e}") from None

    def offsets_for(self, stats: NormStats) -> np.ndarray:
        """The line as normalised offsets (P, 3) for a model with normalisation `stats`."""
        if self.offsets is None:
            return user_line_to_offsets(self.strokes or [], stats)
        own = self.norm
        if own is None or (own.mean, own.std) == (stats.mean, stats.std):
            return self.offsets
        return stats.normalise(own.denormalise(self.offsets))


# ---- geometry ------------------------------------------------------------------------------


def _resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points every `step` along the polyline (ends kept); a zero-length stroke -> 1 point."""
    d = np.hypot(*np.diff(stroke, axis=0).T) if len(stroke) > 1 else np.zeros(0)
    arc = np.concatenate([[0.0], np.cumsum(d)])
    if arc[-1] <= 0:
        return stroke[:1].copy()
    q = np.linspace(0.0, arc[-1], max(1, math.ceil(arc[-1] / step)) + 1)
    return np.stack([np.interp(q, arc, stroke[:, 0]), np.interp(q, arc, stroke[:, 1])], 1)


def core_height(strokes: list[np.ndarray]) -> float:
    """10th-90th percentile range of y over the trace, evenly resampled (density-free)."""
    allp = np.concatenate(strokes)
    span = float(np.ptp(allp, axis=0).max())
    if span <= 0:
        return 0.0
    dense = np.concatenate([_resample(s, span / 2000.0) for s in strokes])
    lo, hi = np.percentile(dense[:, 1], [10, 90])
    return float(hi - lo) or float(np.ptp(dense[:, 1]))


def _checked(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Non-empty (n, 2) float strokes with finite coordinates and some height, or an error."""
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes]
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise GenseqError("the style has no points")
    if not all(np.isfinite(s).all() for s in strokes):
        raise GenseqError("the style has non-finite coordinates")
    check_extent(np.concatenate(strokes), "the style")
    if sum(len(s) for s in strokes) > MAX_STYLE_POINTS:
        raise GenseqError(f"the style has over {MAX_STYLE_POINTS:,} points")
    if core_height(strokes) <= 0:
        raise GenseqError("the style's points have no height: cannot scale them")
    return strokes


def user_line_to_offsets(strokes: list[np.ndarray], stats: NormStats) -> np.ndarray:
    """Absolute strokes (y down, any units) -> normalised offsets (P, 3) for `stats`' model:
    rescaled to the model's typical line height and resampled to its point spacing (see the
    module docstring)."""
    strokes = _checked(strokes)
    std_y = float(stats.std[1])
    scale = CORE_HEIGHT_STD * std_y / core_height(strokes)
    length = sum(float(np.hypot(*np.diff(s, axis=0).T).sum()) for s in strokes)
    if not length * scale / (STEP_STD * std_y) <= MAX_STYLE_POINTS:  # resampled below
        raise GenseqError(f"the style is over {MAX_STYLE_POINTS:,} points at the model's scale")
    strokes = [_resample(s * scale, STEP_STD * std_y) for s in strokes]
    xy = np.concatenate(strokes)
    eos = np.zeros(len(xy), np.float32)
    eos[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    return stats.normalise(to_offsets(xy, eos))  # y up, first offset (0, 0), as in the cache


# ---- JSON ----------------------------------------------------------------------------------


def _points_to_strokes(points: np.ndarray) -> list[np.ndarray]:
    ends = np.flatnonzero(points[:, 2] > 0.5) + 1
    return [s[:, :2] for s in np.split(points, ends) if len(s)]


def _as_strokes(points: Any) -> list[np.ndarray]:
    """An (N, 3) [x, y, eos] array or a list of (n, 2) strokes -> strokes."""
    try:
        a = np.asarray(points, np.float64)
    except (TypeError, ValueError):  # ragged: a list of strokes of different lengths
        return [np.asarray(s, np.float64) for s in points]
    if a.ndim == 2 and a.shape[1] == 3:
        return _points_to_strokes(a)
    if a.ndim == 3 and a.shape[2] == 2:
        return list(a)
    if a.ndim == 2 and a.shape[1] == 2:  # one stroke
        return [a]
    if a.size == 0:
        return []
    raise GenseqError(f"style points must be [x, y, eos] triples or strokes, got shape {a.shape}")


def strokes_from_json(d: dict) -> list[np.ndarray]:
    """{"points": [[x, y, eos], ...]} or {"strokes": [[[x, y], ...], ...]} -> strokes."""
    try:
        if "points" in d:
            p = np.asarray(d["points"], np.float64)
            if p.size == 0:
                return []
            if p.ndim != 2 or p.shape[1] != 3:
                raise ValueError(f"points must be [x, y, eos] triples, got shape {p.shape}")
            return _points_to_strokes(p)
        if "strokes" in d:
            out = [np.asarray(s, np.float64).reshape(-1, 2) for s in d["strokes"]]
            return [s for s in out if len(s)]
    except (TypeError, ValueError) as e:
        raise GenseqError(f"bad style points ({e})") from None
    raise GenseqError('a style JSON needs "points" ([[x, y, eos], ...]) or "strokes"')


def read_pen_file(
    path: str | Path, what: str = "style file"
) -> tuple[list[np.ndarray], str, dict | None]:
    """A JSON or SVG pen file (see the module docstring) -> (strokes in its units, y down; its
    text or ""; None), or for genseq's own style file (normalised offsets) ([], its text, the
    JSON object)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_STYLE_BYTES:
            raise GenseqError(f"{path}: a style file is at most {MAX_STYLE_BYTES:,} bytes")
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GenseqError(f"cannot read the {what} {path} ({e.__class__.__name__})") from None
    if path.suffix.lower() == ".svg" or raw.lstrip().startswith("<"):
        return (*strokes_from_svg(raw), None)
    try:
        d = json.loads(raw)
    except json.JSONDecodeError as e:
        raise GenseqError(f"{path} is neither JSON nor SVG ({e})") from None
    if not isinstance(d, dict):
        raise GenseqError(f"{path}: a pen JSON must be an object with text and points")
    if "norm" in d:  # genseq's own style file (`hand styles --make`): normalised offsets
        return [], str(d.get("text") or ""), d
    return strokes_from_json(d), str(d.get("text") or ""), None


def _own_style(d: dict, source: str, path: Path | str) -> Style:
    """genseq's own style JSON {"text", "points": normalised offsets, "source"[, "norm"]}."""
    try:
        p = np.asarray(d["points"], np.float32).reshape(-1, 3)
        norm = NormStats.from_json(json.dumps(d["norm"])) if "norm" in d else None
        return Style(str(d["text"]), None, p, norm, str(d.get("source", source)))
    except (KeyError, TypeError, ValueError) as e:
        raise GenseqError(f"{path}: not a valid genseq style file ({e})") from None


# ---- built-ins -----------------------------------------------------------------------------


def builtin_style_files(folder: str | Path | None = None) -> list[Path]:
    """The built-in style files (default: STYLES_DIR), in file-name order."""
    folder = Path(folder) if folder is not None else STYLES_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _read_builtin(f: Path) -> Style:
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GenseqError(f"built-in style {f.name} is unreadable ({e})") from None
    return _own_style(d, f.name, f"built-in style {f.name}")


def builtin_styles(folder: str | Path | None = None) -> list[Style]:
    """Every built-in style, numbered as `genseq write --style K` counts them (from 0)."""
    return [_read_builtin(f) for f in builtin_style_files(folder)]


def builtin_style(k: int, folder: str | Path | None = None) -> Style:
    """Built-in style number k (0-based, in file-name order)."""
    files = builtin_style_files(folder)
    if not files:
        where = folder if folder is not None else STYLES_DIR
        raise GenseqError(
            f"no built-in styles are installed ({where} has none); use --style-from FILE"
        )
    if not 0 <= k < len(files):
        raise GenseqError(f"no built-in style {k}: there are {len(files)} (0 to {len(files) - 1})")
    return _read_builtin(files[k])


def list_builtin_styles(folder: str | Path | None = None) -> list[tuple[int, str, str]]:
    """[(k, text, source)] of the built-in styles (an unreadable file is listed as such)."""
    out = []
    for k, f in enumerate(builtin_style_files(folder)):
        try:
            st = _read_builtin(f)
            out.append((k, st.text, st.source))
        except GenseqError:
            out.append((k, "(unreadable)", f.name))
    return out
