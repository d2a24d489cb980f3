"""The messages genseq.hand.page refuses with (`genseq.write` and `Page.save`), word for word."""

from __future__ import annotations

import re

import pytest

import genseq
from genseq.errors import GenseqError
from genseq.hand.page import write_page
from genseq.hand.sample import load_hand_model


@pytest.mark.parametrize("width", [0, -5])
def test_width_below_one(tiny_synth, width):
    want = f"^the width must be >= 1 character, got {width}$"
    with pytest.raises(GenseqError, match=want):
        genseq.write("to be", model=tiny_synth, width=width)
    with pytest.raises(GenseqError, match=want):
        write_page(load_hand_model(tiny_synth), "to be", width)


@pytest.mark.parametrize("fmt", ["pdf", "svg", "GCODE", "Plotter"])
def test_saving_in_an_unknown_format(tiny_synth, tmp_path, fmt):
    page = genseq.write("to", model=tiny_synth, seed=0)
    want = f"unknown format {fmt!r}: use plotter, gcode or none"
    with pytest.raises(GenseqError, match=f"^{re.escape(want)}$"):
        page.save(tmp_path / "p.svg", format=fmt)
    assert not (tmp_path / "p.svg").exists()
    assert page.save(tmp_path / "p.gcode").read_text().startswith("G21")  # by the suffix
