"""Every message genseq.hand.styles refuses a style with, through `Style.from_strokes`,
`Style.from_file` or `genseq write --style-from` (exit 2, one line), checked word for word."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.styles import Style

TALL = [[0.0, 0.0], [0.0, 10.0], [4.0, 10.0]]


def raises(message: str):
    return pytest.raises(GenseqError, match=re.escape(message))


@pytest.mark.parametrize("big", [1e10, -2e9, 1e300])
def test_coordinates_beyond_the_limit(tmp_path, big):
    with raises("the style has coordinates beyond ±1e+09"):
        Style.from_strokes([[*TALL, [big, 5.0]]], "hi")
    f = tmp_path / "far.json"
    f.write_text(json.dumps({"text": "hi", "strokes": [[*TALL, [3.0, big]]]}))
    with raises(f"cannot use the style file {f}: the style has coordinates beyond ±1e+09"):
        Style.from_file(f)


@pytest.mark.parametrize(
    ("points", "shape"),
    [
        (np.zeros((4, 4)), "(4, 4)"),
        ([1.0, 2.0, 3.0], "(3,)"),
        (np.zeros((2, 3, 3)), "(2, 3, 3)"),
        (7.0, "()"),
    ],
)
def test_points_of_the_wrong_shape(points, shape):
    with raises(f"style points must be [x, y, eos] triples or strokes, got shape {shape}"):
        Style.from_strokes(points, "hi")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"points": [[1, 2]]}, "points must be [x, y, eos] triples, got shape (1, 2)"),
        ({"points": [[0, 0, 0], ["a", 1, 1]]}, "could not convert string to float: 'a'"),
        ({"strokes": [[[1, 2, 3]]]}, "cannot reshape array of size 3 into shape"),
        ({"strokes": 5}, "'int' object is not iterable"),
    ],
)
def test_bad_points_in_a_style_file(tmp_path, capsys, tiny_synth, body, why):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"text": "hi", **body}))
    with raises(f"bad style points ({why}"):
        Style.from_file(f)
    capsys.readouterr()
    argv = ["write", "ab", "--model", str(tiny_synth), "-o", str(tmp_path / "o.svg")]
    assert main([*argv, "--style-from", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"genseq: error: bad style points ({why}" in err


def test_a_failing_style_file_is_named(tmp_path, capsys, tiny_synth):
    """A style file whose strokes are refused: the message names the file (genseq/hand/styles.py,
    `Style.from_file`), from Python and from `genseq write --style-from`."""
    f = tmp_path / "flat.json"
    f.write_text(json.dumps({"text": "flat", "strokes": [[[0, 5], [10, 5]]]}))
    want = f"cannot use the style file {f}: the style's points have no height: cannot scale them"
    with pytest.raises(GenseqError, match=f"^{re.escape(want)}$"):
        Style.from_file(f)
    capsys.readouterr()
    argv = ["write", "ab", "--model", str(tiny_synth), "-o", str(tmp_path / "o.svg")]
    assert main([*argv, "--style-from", str(f)]) == 2
    assert capsys.readouterr().err == f"genseq: error: {want}\n"
    assert not (tmp_path / "o.svg").exists()


def test_making_styles_primed_with_a_set_without_lines(tmp_path, capsys, tiny_synth):
    from genseq.hand.make_styles import primer_lines
    from tests.hand.test_task_errors import small_cache

    data = tmp_path / "c.npz"
    small_cache(data, {"trainset": [30, 40]})  # no validation lines to prime with
    with raises(f"no valid lines with text in {data}"):
        primer_lines(data, tiny_synth, 2)
    with raises(f"no testset_t lines with text in {data}"):
        primer_lines(data, tiny_synth, 2, split="testset_t")
    capsys.readouterr()
    argv = ["hand", "styles", "--make", str(tiny_synth), "--out", str(tmp_path / "st")]
    assert main([*argv, "--n", "1", "--prime-data", str(data)]) == 2
    assert capsys.readouterr().err == f"genseq: error: no valid lines with text in {data}\n"
