"""The optional legibility hook: used only where the recognizer (genseq.hand.recognize) and
its model exist; the page gets a score per line."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import genseq
from genseq.web import legibility
from genseq.web.job import page_lines

RECOGNIZE = "genseq.hand.recognize"


def _fake_recognizer(monkeypatch, reads: dict[int, str]) -> list[list[np.ndarray]]:
    """A stand-in recognizer reading a line of n points as reads[n] -> what it was given."""
    given: list[list[np.ndarray]] = []

    class Rec:
        def read_raw(self, lines):
            given.append(lines)
            return [reads.get(len(s), "") for s in lines]

    def edit_distance(a, b):  # enough for the test's strings
        return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))

    read = types.SimpleNamespace(load_recognizer=lambda name: Rec())
    metrics = types.SimpleNamespace(edit_distance=edit_distance)
    monkeypatch.setitem(sys.modules, RECOGNIZE, types.ModuleType(RECOGNIZE))
    monkeypatch.setitem(sys.modules, f"{RECOGNIZE}.read", read)
    monkeypatch.setitem(sys.modules, f"{RECOGNIZE}.metrics", metrics)
    return given


def test_no_recognizer_no_score(monkeypatch):
    monkeypatch.setitem(sys.modules, f"{RECOGNIZE}.read", None)  # its import fails
    assert legibility.scorer() is None


def test_each_line_is_scored_from_its_own_pen_offsets(monkeypatch, tiny_model_dir):
    page = genseq.write("hi\n\nhey", model=genseq.load(tiny_model_dir), seed=1)
    n0, n2 = (len(s) for s in page.synthesis.strokes)
    assert n0 != n2  # the stand-in tells the lines apart by their lengths
    given = _fake_recognizer(monkeypatch, {n0: "hi", n2: "hex"})
    score = legibility.scorer()
    assert score is not None
    lines = page_lines(page, score)
    assert [x["legibility"] for x in lines] == [1.0, None, 0.667]  # CER 0, blank, 1 of 3
    (batch,) = given  # one call for the page
    raw = genseq.load(tiny_model_dir).stats.denormalise(page.synthesis.strokes[0].numpy())
    np.testing.assert_allclose(batch[0][1:, :2], raw[1:, :2], atol=1e-3)  # its offsets


def test_the_api_shows_scores_only_with_a_recognizer(monkeypatch, make_client):
    _fake_recognizer(monkeypatch, {})
    c = make_client(legibility=legibility.scorer())
    page = c.post("/api/write", json={"text": "hi", "seed": 1}).json()
    assert page["lines"][0]["legibility"] == 0.0  # read as "": every character wrong
    assert c.get("/api/info").json()["legibility"] is True
    assert make_client().get("/api/info").json()["legibility"] is False


def test_the_real_recognizer_where_it_is_installed(tiny_model_dir):
    pytest.importorskip(f"{RECOGNIZE}.read", reason="no recognizer in this checkout")
    score = legibility.scorer()
    if score is None:
        pytest.skip("no shipped recognizer model")
    st = genseq.styles()[0]
    raw = st.norm.denormalise(st.offsets)  # a line the network wrote well
    (good,) = score([raw], [st.text])
    (bad,) = score([raw], ["zzzz qqqq xxxx"])
    assert good is not None and bad is not None and good > bad
