"""A small SVG reader for style lines (`genseq.hand.styles`): paths, polylines, polygons and
lines in document order, `transform`s applied, béziers sampled into points; the first
<title> as the line's text. Coordinates stay in the document's units, y down."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np

from genseq.errors import GenseqError

BEZIER_POINTS = 16  # samples per SVG curve segment (the stroke is resampled afterwards)
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([MmLlHhVvCcSsQqTtZzAa])|({_NUM})")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}
_SKIP = ("defs", "clipPath", "mask", "symbol", "metadata", "style")


def _bezier(p: np.ndarray, n: int = BEZIER_POINTS) -> np.ndarray:
    """Points of a quadratic (3 control points) or cubic (4) bézier, t in (0, 1]."""
    t = np.linspace(0.0, 1.0, n + 1)[1:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
    s = 1 - t
    return s**3 * p[0] + 3 * s**2 * t * p[1] + 3 * s * t**2 * p[2] + t**3 * p[3]


def _segment(
    up: str, rel: bool, v: np.ndarray, cur: np.ndarray, ctrl: tuple[np.ndarray | None, str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The points of one drawing command (L H V C S Q T, upper case; `rel`: relative) from
    the pen at `cur` -> (points, its last control point for a following S / T or None).
    ctrl: the previous command's control point and letter (S and T reflect it)."""
    base = cur if rel else np.zeros(2)
    last_ctrl, last_cmd = ctrl
    if up == "L":
        return (base + v)[None], None
    if up == "H":
        return np.array([[v[0] + (cur[0] if rel else 0.0), cur[1]]]), None
    if up == "V":
        return np.array([[cur[0], v[0] + (cur[1] if rel else 0.0)]]), None
    if up in "CS":
        if up == "C":
            c1, c2, end = base + v[:2], base + v[2:4], base + v[4:]
        else:
            c1 = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "CS" else cur
            c2, end = base + v[:2], base + v[2:]
        return _bezier(np.stack([cur, c1, c2, end])), c2
    if up == "Q":
        c1, end = base + v[:2], base + v[2:]
    else:  # T
        c1 = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "QT" else cur
        end = base + v
    return _bezier(np.stack([cur, c1, end])), c1


def parse_path(d: str) -> list[np.ndarray]:
    """SVG path data -> one (n, 2) polyline per subpath (béziers sampled)."""
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(d)]
    strokes: list[list[np.ndarray]] = []
    cur = start = np.zeros(2)
    ctrl: tuple[np.ndarray | None, str] = (None, "")  # reflected by S / T
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
                cur, ctrl = start, (None, "Z")
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
        if up == "M":
            cur = start = (cur if rel else np.zeros(2)) + v
            strokes.append([cur[None].copy()])
            cmd, ctrl = ("l" if rel else "L"), (None, "M")  # further pairs: implicit lines
            continue
        if not strokes:
            strokes.append([cur[None].copy()])
        pts, last = _segment(up, rel, v, cur, ctrl)
        strokes[-1].append(pts)
        cur, ctrl = pts[-1].copy(), (last, up)
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


def _element_strokes(el: ET.Element, tag: str) -> list[np.ndarray]:
    """The polylines one element draws, in its own coordinates."""
    if tag == "path":
        return parse_path(el.get("d", ""))
    if tag in ("polyline", "polygon"):
        v = [float(x) for x in re.findall(_NUM, el.get("points", ""))]
        p = np.array(v[: len(v) // 2 * 2]).reshape(-1, 2)
        if tag == "polygon" and len(p):
            p = np.concatenate([p, p[:1]])
        return [p] if len(p) else []
    if tag == "line":
        try:
            g = [float(el.get(k, "0")) for k in ("x1", "y1", "x2", "y2")]
        except ValueError:
            raise GenseqError("bad SVG <line>: x1, y1, x2, y2 must be numbers") from None
        return [np.array(g).reshape(2, 2)]
    return []


def strokes_from_svg(svg: str) -> tuple[list[np.ndarray], str]:
    """SVG text -> (strokes in user units, y down; the first <title>'s text or "")."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise GenseqError(f"not a readable SVG ({e})") from None
    if _local(root.tag) != "svg":
        raise GenseqError(f"not an SVG document (root element <{_local(root.tag)}>)")
    title = [""]
    strokes: list[np.ndarray] = []

    def visit(el: ET.Element, m: np.ndarray) -> None:
        tag = _local(el.tag)
        if tag in _SKIP:
            return
        if tag == "title" and not title[0]:
            title[0] = " ".join((el.text or "").split())
        m = m @ _transform(el.get("transform"))
        for s in _element_strokes(el, tag):
            strokes.append(s @ m[:2, :2].T + m[:2, 2])
        for child in el:
            visit(child, m)

    try:
        visit(root, np.eye(3))
    except RecursionError:
        raise GenseqError("the SVG is nested too deeply to read") from None
    return strokes, title[0]
