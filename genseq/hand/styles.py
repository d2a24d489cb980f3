"""Handwriting styles for primed sampling (Graves 2013, §5.5).

To write text s in the style of a line x with text c, the synthesis network reads x clamped
with the string c + s and then writes freely after x's last point (`SynthesisNet.synthesize`
with `prime=`). A style is that (x, c): `Style.points` are normalised offsets (Δx, Δy, e) in
the network representation of §4, normalised with the MODEL's `NormStats`.

Two sources:
- a user's own line (`load_style_file`): JSON or SVG in arbitrary screen units, y down;
- built-ins (`builtin_styles`): JSON files in genseq/pretrained/styles/, lines that a trained
  network wrote itself (`make_styles`). No IAM-OnDB data is shipped.

User file formats (absolute pen coordinates, y down like a screen):
    {"text": "...", "points": [[x, y, eos], ...]}     eos = 1 on a stroke's last point
    {"text": "...", "strokes": [[[x, y], ...], ...]}  one list of points per stroke
    SVG: <path d> (M/L/H/V/C/S/Q/T/Z, absolute or relative; each subpath is a stroke; béziers
         are sampled into points), <polyline>, <polygon>, <line>, in document order, with
         `transform`s applied; the text is the first <title> unless given explicitly.

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
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.strokes import NormStats, to_offsets
from genseq.limits import MAX_STYLE_BYTES, MAX_STYLE_COORD, MAX_STYLE_POINTS

if TYPE_CHECKING:
    from genseq.hand.sample import HandModel

STYLES_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "styles"
CORE_HEIGHT_STD = 7.0  # IAM training lines: median 10-90% y range = 6.97 x std(Δy)
STEP_STD = 0.55  # IAM training lines: mean pen-down step = 0.55 x std(Δy)
BEZIER_POINTS = 16  # samples per SVG curve segment (the stroke is resampled afterwards)
STYLE_TEXTS = (  # what `make_styles` asks the network to write (letters common in IAM-OnDB)
    "the quick brown fox jumps over",
    "a handwritten line of words",
    "some words written in my hand",
    "pack my box with five dozen",
)


@dataclass
class Style:
    """A line to prime with (§5.5): normalised offsets (P, 3) and the text they spell."""

    points: np.ndarray
    text: str
    source: str = ""


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


def user_line_to_offsets(strokes: list[np.ndarray], stats: NormStats) -> np.ndarray:
    """Absolute strokes (y down, any units) -> normalised offsets (P, 3) for `stats`' model:
    rescaled to the model's typical line height and resampled to its point spacing (see the
    module docstring)."""
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes]
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise GenseqError("the style has no points")
    if not all(np.isfinite(s).all() for s in strokes):
        raise GenseqError("the style has non-finite coordinates")
    if max(float(np.abs(s).max()) for s in strokes) > MAX_STYLE_COORD:
        raise GenseqError(f"the style has coordinates beyond ±{MAX_STYLE_COORD:g}")
    if sum(len(s) for s in strokes) > MAX_STYLE_POINTS:
        raise GenseqError(f"the style has over {MAX_STYLE_POINTS:,} points")
    h = core_height(strokes)
    if h <= 0:
        raise GenseqError("the style's points have no height: cannot scale them")
    std_y = float(stats.std[1])
    scale = CORE_HEIGHT_STD * std_y / h
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


# ---- SVG -----------------------------------------------------------------------------------

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([MmLlHhVvCcSsQqTtZzAa])|({_NUM})")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}


def _bezier(p: np.ndarray, n: int = BEZIER_POINTS) -> np.ndarray:
    """Points of a quadratic (3 control points) or cubic (4) bézier, t in (0, 1]."""
    t = np.linspace(0.0, 1.0, n + 1)[1:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
    s = 1 - t
    return s**3 * p[0] + 3 * s**2 * t * p[1] + 3 * s * t**2 * p[2] + t**3 * p[3]


def parse_path(d: str) -> list[np.ndarray]:
    """SVG path data -> one (n, 2) polyline per subpath (béziers sampled)."""
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(d)]
    strokes: list[list[np.ndarray]] = []
    cur = start = np.zeros(2)
    last_ctrl: np.ndarray | None = None  # reflected by S / T
    last_cmd = ""
    i, cmd = 0, ""
    while i < len(tokens):
        c, _ = tokens[i]
        if c:
            cmd, i = c, i + 1
            if cmd in "Aa":
                raise GenseqError("SVG arcs (A) are not supported: convert them to curves")
            if cmd in "Zz":
                if strokes and len(strokes[-1]):
                    strokes[-1].append(start[None].copy())
                cur, last_ctrl, last_cmd = start, None, "Z"
                continue
        elif not cmd:
            raise GenseqError(f"bad SVG path data: {d[:40]!r}")
        n = _ARGS[cmd.upper()]
        if n == 0:  # a number after Z, which takes none
            raise GenseqError(f"bad SVG path data after {cmd!r}: {d[:40]!r}")
        args = [tokens[i + k][1] for k in range(n)] if i + n <= len(tokens) else []
        if len(args) < n or any(a is None for a in args):
            raise GenseqError(f"bad SVG path data near {cmd!r}: {d[:40]!r}")
        v = np.array([float(a) for a in args])  # type: ignore[arg-type]
        i += n
        rel, up = cmd.islower(), cmd.upper()
        base = cur if rel else np.zeros(2)
        ctrl = None
        if up == "M":
            cur = start = base + v
            strokes.append([cur[None].copy()])
            cmd = "l" if rel else "L"  # further pairs are implicit lines
        else:
            if not strokes:
                strokes.append([cur[None].copy()])
            if up == "L":
                pts = (base + v)[None]
            elif up == "H":
                pts = np.array([[v[0] + (cur[0] if rel else 0.0), cur[1]]])
            elif up == "V":
                pts = np.array([[cur[0], v[0] + (cur[1] if rel else 0.0)]])
            elif up in "CS":
                if up == "C":
                    c1, c2, end = base + v[:2], base + v[2:4], base + v[4:]
                else:
                    c1 = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "CS" else cur
                    c2, end = base + v[:2], base + v[2:]
                pts, ctrl = _bezier(np.stack([cur, c1, c2, end])), c2
            else:  # Q, T
                if up == "Q":
                    c1, end = base + v[:2], base + v[2:]
                else:
                    c1 = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "QT" else cur
                    end = base + v
                pts, ctrl = _bezier(np.stack([cur, c1, end])), c1
            strokes[-1].append(pts)
            cur = pts[-1].copy()
        last_ctrl, last_cmd = ctrl, up
    return [np.concatenate(s) for s in strokes]


def _transform(attr: str | None) -> np.ndarray:
    """An SVG transform list -> 3x3 affine matrix."""
    m = np.eye(3)
    if not attr:
        return m
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", attr):
        a = [float(x) for x in re.findall(_NUM, args)]
        t = np.eye(3)
        if name == "matrix" and len(a) == 6:
            t[:2] = [[a[0], a[2], a[4]], [a[1], a[3], a[5]]]
        elif name == "translate" and a:
            t[:2, 2] = [a[0], a[1] if len(a) > 1 else 0.0]
        elif name == "scale" and a:
            t[0, 0], t[1, 1] = a[0], a[1] if len(a) > 1 else a[0]
        elif name == "rotate" and a:
            r = math.radians(a[0])
            cx, cy = (a[1], a[2]) if len(a) == 3 else (0.0, 0.0)
            cos, sin = math.cos(r), math.sin(r)
            rot = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
            back, there = np.eye(3), np.eye(3)
            back[:2, 2], there[:2, 2] = [cx, cy], [-cx, -cy]
            t = back @ rot @ there
        else:
            raise GenseqError(f"unsupported SVG transform {name}({args})")
        m = m @ t
    return m


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def strokes_from_svg(svg: str) -> tuple[list[np.ndarray], str]:
    """SVG text -> (strokes in user units, y down; the first <title>'s text or "")."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise GenseqError(f"not a readable SVG ({e})") from None
    if _local(root.tag) != "svg":
        raise GenseqError(f"not an SVG document (root element <{_local(root.tag)}>)")
    title = ""
    strokes: list[np.ndarray] = []

    def visit(el: ET.Element, m: np.ndarray) -> None:
        nonlocal title
        tag = _local(el.tag)
        if tag in ("defs", "clipPath", "mask", "symbol", "metadata", "style"):
            return
        if tag == "title" and not title:
            title = " ".join((el.text or "").split())
        m = m @ _transform(el.get("transform"))
        found: list[np.ndarray] = []
        if tag == "path":
            found = parse_path(el.get("d", ""))
        elif tag in ("polyline", "polygon"):
            v = [float(x) for x in re.findall(_NUM, el.get("points", ""))]
            p = np.array(v[: len(v) // 2 * 2]).reshape(-1, 2)
            if tag == "polygon" and len(p):
                p = np.concatenate([p, p[:1]])
            found = [p] if len(p) else []
        elif tag == "line":
            try:
                g = [float(el.get(k, "0")) for k in ("x1", "y1", "x2", "y2")]
            except ValueError:
                raise GenseqError("bad SVG <line>: x1, y1, x2, y2 must be numbers") from None
            found = [np.array(g).reshape(2, 2)]
        for s in found:
            strokes.append(s @ m[:2, :2].T + m[:2, 2])
        for child in el:
            visit(child, m)

    try:
        visit(root, np.eye(3))
    except RecursionError:
        raise GenseqError("the SVG is nested too deeply to read") from None
    return strokes, title


# ---- styles --------------------------------------------------------------------------------


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


def load_style_file(path: str | Path, stats: NormStats, text: str | None = None) -> Style:
    """A user's line from JSON or SVG (see the module docstring) -> Style for a model with
    normalisation `stats`. `text` overrides the file's text."""
    path = Path(path)
    strokes, file_text, own = read_pen_file(path)
    if own is not None:
        try:
            st = style_from_dict(own, stats, str(path))
        except (KeyError, TypeError, ValueError) as e:
            raise GenseqError(f"{path}: not a valid genseq style file ({e})") from None
        if text is not None:
            st = Style(st.points, " ".join(text.split()), st.source)
        return st
    text = text if text is not None else file_text
    if not text.strip():
        raise GenseqError(
            f'{path}: the style has no text: say what it reads (JSON "text", an SVG '
            "<title>, or --style-text)"
        )
    if not strokes or sum(len(s) for s in strokes) == 0:
        raise GenseqError(f"{path}: the style has no points")
    try:
        points = user_line_to_offsets(strokes, stats)
    except GenseqError as e:
        raise GenseqError(f"{path}: {e}") from None
    return Style(points, " ".join(text.split()), str(path))


def style_from_dict(d: dict, stats: NormStats, source: str = "") -> Style:
    """A built-in style {"text", "points": normalised offsets, "source"[, "norm"]} -> Style
    for a model with `stats` (re-normalised when the file records other statistics)."""
    p = np.asarray(d["points"], np.float32).reshape(-1, 3)
    if "norm" in d:
        own = NormStats.from_json(json.dumps(d["norm"]))
        if (own.mean, own.std) != (stats.mean, stats.std):
            p = stats.normalise(own.denormalise(p))
    return Style(p, str(d["text"]), str(d.get("source", source)))


def builtin_style_files(folder: str | Path | None = None) -> list[Path]:
    """The built-in style files (default: STYLES_DIR), in file-name order."""
    folder = Path(folder) if folder is not None else STYLES_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def builtin_style(k: int, stats: NormStats, folder: str | Path | None = None) -> Style:
    """Built-in style number k (0-based, in file-name order)."""
    files = builtin_style_files(folder)
    if not files:
        where = folder if folder is not None else STYLES_DIR
        raise GenseqError(
            f"no built-in styles are installed ({where} has none); use --style-from FILE"
        )
    if not 0 <= k < len(files):
        raise GenseqError(f"no built-in style {k}: there are {len(files)} (0 to {len(files) - 1})")
    try:
        d = json.loads(files[k].read_text(encoding="utf-8"))
        return style_from_dict(d, stats, files[k].name)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GenseqError(f"built-in style {files[k].name} is unreadable ({e})") from None


def list_builtin_styles(folder: str | Path | None = None) -> list[tuple[int, str, str]]:
    """[(k, text, source)] of the built-in styles."""
    out = []
    for k, f in enumerate(builtin_style_files(folder)):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            out.append((k, str(d.get("text", "")), str(d.get("source", f.name))))
        except (OSError, ValueError):
            out.append((k, "(unreadable)", f.name))
    return out


def primer_lines(
    cache: str | Path,
    model: HandModel | str | Path,
    n: int,
    seed: int = 0,
    split: str = "valid",
) -> list[tuple[np.ndarray, str, str]]:
    """n real lines (normalised strokes, text, id) of a cache's `split`, spread over the set
    in a seeded random order (different forms, so mostly different writers), whose text the
    model's alphabet can encode. `model`: a loaded HandModel or its directory."""
    from genseq.hand.data import HandDataset
    from genseq.hand.sample import HandModel as _HandModel
    from genseq.hand.sample import load_hand_model

    m = model if isinstance(model, _HandModel) else load_hand_model(model)
    if m.alphabet is None:
        raise GenseqError("making styles needs a synthesis model (hand train --task synth)")
    ds = HandDataset(cache, split, alphabet=m.alphabet)
    order = np.random.default_rng(seed).permutation(len(ds))
    out: list[tuple[np.ndarray, str, str]] = []
    forms: set[str] = set()
    for i in order.tolist():
        line = ds[i]
        form = line.id.rsplit("-", 1)[0]
        if form in forms or not line.text.strip():
            continue
        forms.add(form)
        out.append((m.stats.normalise(ds.cache.raw(int(ds.positions[i]))), line.text, line.id))
        if len(out) == n:
            break
    if not out:
        raise GenseqError(f"no {split} lines with text in {cache}")
    return out


def make_styles(
    model_dir: str | Path,
    out_dir: str | Path | None = None,
    n: int = 12,
    seed: int = 0,
    bias: float = 0.5,
    texts: tuple[str, ...] = STYLE_TEXTS,
    finished_only: bool = True,
    primers: list[tuple[np.ndarray, str, str]] | None = None,
    prime_data: str | Path | None = None,
) -> list[Path]:
    """Sample `n` candidate style lines with a trained synthesis model and save each as
    out_dir/style-NN.json ({"text", "points", "source", "norm"}), plus out_dir/candidates.png,
    a contact sheet to choose from (delete the files you do not want; the rest are the
    built-ins, numbered in file-name order). With finished_only, only lines the network
    ended by the §5.3 stop rule, with >= 5 points a character, are kept (up to 4n tries).

    primers: real lines (normalised strokes, text, id), one per try in turn: each candidate
    is then the network's own writing primed with a writer's line (§5.5), so the styles are
    distinct hands; the file keeps only the network's points, never the real line's.
    prime_data: a cache to take 4n such lines from (`primer_lines`), instead of `primers`."""
    import torch
    from matplotlib.figure import Figure

    from genseq.hand.render import plot_strokes
    from genseq.hand.sample import _prime_text, encode_lines, load_hand_model

    m = load_hand_model(model_dir)
    if m.alphabet is None:
        raise GenseqError("making styles needs a synthesis model (hand train --task synth)")
    if prime_data is not None:
        primers = primer_lines(prime_data, m, 4 * n, seed)
    out_dir = Path(out_dir) if out_dir is not None else STYLES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    kept: list[tuple[np.ndarray, str]] = []
    tries = 0
    sources: list[str] = []
    while len(kept) < n and tries < 4 * n:
        if primers:  # one primed line per call: each try has its own writer
            primer = primers[tries % len(primers)]
            batch = [texts[tries % len(texts)]]
            ids, mask = encode_lines(m.alphabet, batch)
            p_ids, _ = encode_lines(m.alphabet, [_prime_text(primer[1])])
            prime = (torch.as_tensor(primer[0], dtype=torch.float32), p_ids[0])
            where = f", primed with IAM-OnDB line {primer[2]}"
        else:
            batch = [texts[(tries + j) % len(texts)] for j in range(min(8, 4 * n - tries))]
            ids, mask = encode_lines(m.alphabet, batch)
            prime, where = None, ""
        tries += len(batch)
        syn = m.net.synthesize(ids, mask, bias=bias, generator=gen, prime=prime)
        for s, ok, text in zip(syn.strokes, syn.stopped, batch, strict=True):
            pts = s.numpy()
            good = ok and len(pts) >= 5 * len(text)
            if (good or not finished_only) and len(pts) and len(kept) < n:
                kept.append((pts, text))
                sources.append(where)
    paths = []
    norm = json.loads(m.stats.to_json())
    for k, (pts, text) in enumerate(kept):
        p = out_dir / f"style-{k:02d}.json"
        d = {
            "text": text,
            "points": np.round(pts.astype(np.float64), 4).tolist(),
            "source": f"written by the network in {Path(model_dir).name} (seed {seed}, bias "
            f"{bias}{sources[k]})",
            "norm": norm,
        }
        p.write_text(json.dumps(d) + "\n", encoding="utf-8")
        paths.append(p)
    if kept:
        fig = Figure(figsize=(10, 1.2 * len(kept)))
        for k, (pts, text) in enumerate(kept):
            ax = fig.add_subplot(len(kept), 1, k + 1)
            plot_strokes(ax, pts, stats=m.stats)
            ax.set_title(f"{k}: {text}", fontsize=8, loc="left")
        fig.tight_layout()
        fig.savefig(out_dir / "candidates.png", dpi=80, facecolor="white")
    return paths
