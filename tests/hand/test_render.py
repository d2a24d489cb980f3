from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from genseq.errors import GenseqError
from genseq.hand.render import check_extent, save_strokes, strokes_of, strokes_to_svg
from genseq.hand.strokes import NormStats, to_absolute

# two strokes: a V then a single dot, as offsets (Δx, Δy, e)
OFF = np.array([[0, 0, 0], [10, -20, 0], [10, 20, 1], [5, 0, 1]], np.float32)
SVG = "{http://www.w3.org/2000/svg}"


def _paths(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)
    out = []
    for p in root.iter(SVG + "path"):
        nums = [float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", p.get("d"))]
        out.append(list(zip(nums[::2], nums[1::2], strict=True)))
    return out


def test_svg_one_path_per_stroke_y_flipped():
    svg = strokes_to_svg(OFF, color="red", stroke_width=3)
    root = ET.fromstring(svg)  # well-formed
    paths = _paths(svg)
    assert len(paths) == 2
    assert paths[0] == [(0, 0), (10, 20), (20, 0)]  # y up in data -> y down in SVG
    assert paths[1][0] == (25, 0)
    g = root.find(SVG + "g")
    assert g.get("stroke") == "red" and g.get("stroke-width") == "3"
    x, y, w, h = (float(v) for v in root.get("viewBox").split())
    # tight: the box contains the drawing with a small margin
    assert x < 0 and x > -0.1 * 25 and x + w > 25 and x + w < 25 * 1.1
    assert y < 0 and y + h > 20 and y + h < 20 + 0.1 * 25


def test_absolute_offsets_and_stats_agree():
    a = strokes_to_svg(OFF)
    assert strokes_to_svg(to_absolute(OFF), absolute=True) == a
    assert strokes_to_svg(torch.from_numpy(OFF)) == a
    st = NormStats((1.0, -2.0), (4.0, 8.0))
    assert strokes_to_svg(st.normalise(OFF), stats=st) == a
    assert [len(s) for s in strokes_of(OFF)] == [3, 1]


def test_title_is_escaped():
    svg = strokes_to_svg(OFF, title='a < b & "c"')
    root = ET.fromstring(svg)
    assert root.find(SVG + "title").text == 'a < b & "c"'
    assert root.find(SVG + "text").text == 'a < b & "c"'


def test_save_formats(tmp_path):
    p = save_strokes(tmp_path / "x.svg", OFF, "hi")
    assert p.read_text().startswith("<svg")
    p = save_strokes(tmp_path / "x.png", OFF, "hi")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GenseqError, match=r"\.svg"):
        save_strokes(tmp_path / "x.gif", OFF)
    with pytest.raises(GenseqError, match="not found"):
        save_strokes(tmp_path / "no" / "x.svg", OFF)
    with pytest.raises(GenseqError, match=r"\(N, 3\)"):
        save_strokes(tmp_path / "x.svg", OFF[:, :2])


@pytest.mark.parametrize(
    ("points", "shape"), [(OFF[:, :2], "(4, 2)"), (OFF.ravel(), "(12,)"), (OFF[None], "(1, 4, 3)")]
)
def test_points_of_the_wrong_shape(tmp_path, points, shape):
    want = f"^expected points of shape \\(N, 3\\), got {re.escape(shape)}$"
    with pytest.raises(GenseqError, match=want):
        strokes_to_svg(points)
    with pytest.raises(GenseqError, match=want):
        save_strokes(tmp_path / "x.png", torch.as_tensor(points))
    # the message as written in genseq/hand/render.py:
    with pytest.raises(GenseqError, match=re.escape("expected points of shape (N, 3), got")):
        strokes_to_svg(points)


@pytest.mark.parametrize("far", [1e300, float("inf"), float("nan")])
def test_coordinates_beyond_the_limit_are_refused_not_divided_by(tmp_path, far):
    """A drawing whose span overflows a float (the web export's fuzz found it) is one clear
    error from the SVG and PNG writers, not a ZeroDivisionError or an SVG of inf."""
    pts = np.array([[0.0, 0.0, 0.0], [0.0, far, 0.0], [0.0, -1.79e308, 1.0]])
    beyond = "^the drawing has coordinates beyond ±1e\\+09$"
    with pytest.raises(GenseqError, match=beyond):
        strokes_to_svg(pts, absolute=True)
    with pytest.raises(GenseqError, match=beyond):
        save_strokes(tmp_path / "far.png", pts, absolute=True)
    assert not (tmp_path / "far.png").exists()
    near = np.array([[0.0, 0.0, 0.0], [1e9, -1e9, 1.0]])  # the limit itself still draws
    assert "inf" not in strokes_to_svg(near, absolute=True)


@pytest.mark.parametrize("far", [-1.0000001e9, 2e9, float("inf"), float("nan")])
def test_check_extent_is_the_one_bound_for_drawings_and_pages(far):
    """genseq.hand.render.check_extent: the writers here and the web export (`what` names the
    drawing) refuse a coordinate beyond ±1e9 or not finite, x or y; the limit itself and no
    points at all pass."""
    for xy in ([[0.0, 0.0], [far, 1.0]], [[0.0, far]]):
        with pytest.raises(GenseqError, match="^strokes: the page has coordinates beyond ±1e"):
            check_extent(np.array(xy), "strokes: the page")
    check_extent(np.array([[1e9, -1e9]]))
    check_extent(np.zeros((0, 2)))
