import numpy as np
import pytest

from genseq.hand.layout import compose_page, gcode, plotter_svg, wrap


def test_wrap_respects_width_and_keeps_every_word():
    text = "the quick brown fox jumps over the lazy dog " * 5
    lines = wrap(text, 20)
    assert all(len(line) <= 20 for line in lines)
    assert " ".join(lines).split() == text.split()


def test_wrap_splits_overlong_words_and_keeps_paragraphs():
    lines = wrap("a " + "x" * 25 + "\n\nnext paragraph", 10)
    assert "x" * 10 in lines and "" in lines and lines[-1] == "paragraph"
    with pytest.raises(ValueError):
        wrap("a", 0)


def _line(n: int, dy: float = 0.0) -> np.ndarray:
    p = np.zeros((n, 3))
    p[:, 0] = 1.0
    p[:, 1] = np.sin(np.arange(n)) + dy
    p[n // 2, 2] = 1.0
    return p


def test_compose_page_stacks_lines_top_to_bottom():
    page = compose_page([_line(20), None, _line(30)])
    assert len(page) == 50
    first, second = page[:20], page[20:]
    assert first[:, 0].min() == 0 and second[:, 0].min() == 0  # every line starts at x = 0
    assert second[:, 1].mean() < first[:, 1].mean()  # the third row is below the first
    assert page[19, 2] == 1.0 and page[-1, 2] == 1.0  # pen lifted at every line end


def test_plotter_outputs_have_one_path_and_pen_moves():
    page = compose_page([_line(20), _line(20)])
    svg = plotter_svg(page)
    assert svg.count("<path") == 1
    n_strokes = int((page[:, 2] > 0.5).sum())
    assert svg.count("M") == n_strokes
    g = gcode(page)
    assert g.count("G0 Z5") == n_strokes + 1 and g.count("G1 Z0") == n_strokes
