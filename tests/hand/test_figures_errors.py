"""Every message genseq.hand.figures refuses with, triggered through its public functions and
checked word for word (the models are the tiny random nets of test_figures.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from genseq.errors import GenseqError
from genseq.hand.figures import (
    density_figure,
    line_phi_figure,
    phi_figure,
    read_line,
    save_figure,
    synthesis_figure,
)
from genseq.hand.sampling import Synthesis
from tests.hand.test_figures import _line, _predict, _synth


def raises(message: str):
    return pytest.raises(GenseqError, match=re.escape(message))


@pytest.mark.parametrize("model", [_predict, _synth])
def test_a_line_without_points(model):
    with raises("the line has no points"):
        read_line(model(), np.zeros((0, 3)), "ab")
    with raises("the line has no points"):
        density_figure(model(), np.zeros((0, 3), np.float32), "ab")


def test_phi_of_a_line_without_points():
    with raises("the line has no points: no window weights to draw"):
        phi_figure(np.zeros((0, 3)), "ab")


def test_phi_needs_a_synthesis_model():
    with raises("φ needs a synthesis model (hand train --task synth)"):
        line_phi_figure(_predict(), _line(), "ab")


def test_a_synthesis_net_reads_a_line_with_its_text():
    with raises("a synthesis network reads a line with its text: give the text"):
        read_line(_synth(), _line())
    with raises("a synthesis network reads a line with its text: give the text"):
        density_figure(_synth(), _line())


@pytest.mark.parametrize("text", ["", [], [0, 0], torch.zeros(3, dtype=torch.long)])
def test_a_synthesis_net_reads_no_empty_text(text):
    with raises("the line's text is empty"):
        read_line(_synth(), _line(), text)


def test_a_synthesized_line_without_points_has_no_density_figure():
    s = _synth()
    ids = torch.tensor(s.alphabet.encode("ab"))
    syn = Synthesis([torch.zeros(0, 3)], [torch.zeros(0, 3)], [False], [ids])
    with raises("the synthesized line has no points to draw a figure of"):
        synthesis_figure(s, syn, 0, "density")
    with raises("the synthesized line has no points to draw a figure of"):
        synthesis_figure(s, syn, 0, "density", prime=np.zeros((0, 3), np.float32))
    with raises("the line has no points: no window weights to draw"):
        synthesis_figure(s, syn, 0, "phi")  # φ of nothing: the same refusal as phi_figure


@pytest.mark.parametrize("name", ["x.gif", "x.jpg", "x", "x.PNG.txt"])
def test_figure_file_types(tmp_path, name):
    fig = phi_figure(np.ones((3, 2)), "a")
    with raises(f"cannot save a figure as {name}: use .png, .svg, .pdf"):
        save_figure(fig, tmp_path / name)
    assert not (tmp_path / name).exists()
