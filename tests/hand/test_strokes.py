from __future__ import annotations

import numpy as np
import pytest

from genseq.errors import GenseqError
from genseq.hand.data import build_cache
from genseq.hand.iamondb import read_iamondb
from genseq.hand.strokes import (
    ABSURD_JUMP,
    NO_TEXT,
    PEN_DOWN_JUMP,
    TOO_FEW_PER_CHAR,
    TOO_FEW_POINTS,
    CleanConfig,
    NormStats,
    clean_line,
    offsets_to_strokes,
    split_strokes,
    to_absolute,
    to_offsets,
)

XY = np.array([[10, 100], [13, 96], [20, 90], [50, 100], [52, 99]], np.float32)  # y down
EOS = np.array([0, 0, 1, 0, 1], np.uint8)


def test_offsets_first_zero_y_up():
    off = to_offsets(XY, EOS)
    assert off.dtype == np.float32 and off.shape == (5, 3)
    np.testing.assert_array_equal(off[0], [0, 0, 0])
    np.testing.assert_array_equal(off[1], [3, 4, 0])  # y flipped: board 100 -> 96 is "up"
    np.testing.assert_array_equal(off[3], [30, -10, 0])  # pen-up jump = offset of the next point
    np.testing.assert_array_equal(off[:, 2], EOS)


def test_offsets_inverse():
    off = to_offsets(XY, EOS)
    ab = to_absolute(off)
    expect = (XY - XY[0]) * [1, -1]
    np.testing.assert_allclose(ab[:, :2], expect)
    strokes = offsets_to_strokes(off)
    assert [len(s) for s in strokes] == [3, 2]
    np.testing.assert_allclose(np.concatenate(strokes), expect)
    assert split_strokes(np.zeros((0, 3))) == []
    # a generated sample whose last point is not an end of stroke still yields its tail
    assert [len(s) for s in split_strokes(np.array([[0, 0, 0], [1, 1, 0.9], [2, 2, 0.1]]))] == [
        2,
        1,
    ]


def test_norm_stats_fit_and_json():
    rng = np.random.default_rng(0)
    lines = [np.c_[rng.normal(5, 3, (n, 2)), rng.integers(0, 2, n)] for n in (50, 70, 90)]
    st = NormStats.fit(lines, source="x")
    flat = np.concatenate(lines)
    np.testing.assert_allclose(st.mean, flat[:, :2].mean(0), rtol=1e-9)
    np.testing.assert_allclose(st.std, flat[:, :2].std(0), rtol=1e-9)
    assert st.n_points == 210
    z = np.concatenate([st.normalise(p) for p in lines])
    np.testing.assert_allclose(z[:, :2].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(0), 1, atol=1e-5)
    np.testing.assert_array_equal(z[:, 2], flat[:, 2])  # end-of-stroke untouched
    np.testing.assert_allclose(st.denormalise(st.normalise(lines[0])), lines[0], atol=1e-4)
    assert NormStats.from_json(st.to_json()) == st
    with pytest.raises(ValueError):
        NormStats.fit([])


def test_norm_stats_from_training_lines_only(iam):
    root, expected = iam
    cfg = CleanConfig(min_points=5, min_points_per_char=0)  # keep every synthetic line
    cache = build_cache(read_iamondb(root, workers=1, progress=False), cfg)
    train = [
        to_offsets(e.xy, e.eos)
        for e in expected.values()
        if e.split in ("trainset", "testset_t", "testset_f")
    ]
    valid = [to_offsets(e.xy, e.eos) for e in expected.values() if e.split == "testset_v"]
    want = NormStats.fit(train)
    assert cache.stats.mean == pytest.approx(want.mean)
    assert cache.stats.std == pytest.approx(want.std)
    assert cache.stats.n_points == sum(len(t) for t in train)
    # validation lines move 5x more: including them would change the statistics a lot
    assert NormStats.fit(train + valid).std[0] > 1.5 * cache.stats.std[0]


def test_clean_line_reasons():
    rng = np.random.default_rng(1)
    xy = np.cumsum(rng.integers(-10, 10, (60, 2)), 0).astype(np.float32)
    eos = np.zeros(60, np.uint8)
    eos[[19, 39, 59]] = 1
    cfg = CleanConfig()
    off, why = clean_line(xy, eos, "abc", cfg)
    assert why is None and off.shape == (60, 3)
    assert clean_line(xy[:10], eos[:10], "a", cfg) == (None, TOO_FEW_POINTS)
    assert clean_line(xy, eos, "x" * 30, cfg) == (None, TOO_FEW_PER_CHAR)
    assert clean_line(xy, eos, None, CleanConfig(require_text=True)) == (None, NO_TEXT)
    assert clean_line(xy, eos, None, cfg)[1] is None  # kept by default (prediction needs no text)
    jump = xy.copy()
    jump[40:] += 5000  # between strokes (pen up before point 40)
    assert clean_line(jump, eos, "abc", cfg) == (None, ABSURD_JUMP)
    down = xy.copy()
    down[30:] += [0, 2000]  # inside the second stroke
    assert clean_line(down, eos, "abc", cfg) == (None, PEN_DOWN_JUMP)
    up = xy.copy()
    up[20:] += [0, 2000]  # the same jump with the pen up is a legitimate move
    assert clean_line(up, eos, "abc", cfg)[1] is None


def test_extra_cleaning_opt_in():
    xy = np.array([[0, 0], [1, 1], [1, 1], [2, 2], [2, 2]], np.float32)
    eos = np.array([0, 0, 0, 0, 1], np.uint8)
    off, _ = clean_line(xy, eos, "a", CleanConfig(min_points=1, extra=("dedupe",)))
    np.testing.assert_array_equal(off, [[0, 0, 0], [1, -1, 0], [1, -1, 1]])
    off, _ = clean_line(xy, eos, "a", CleanConfig(min_points=1))
    assert len(off) == 5  # the default is the raw recording
    with pytest.raises(GenseqError, match="unknown cleaning step"):
        CleanConfig(extra=("magic",))


# ---- every error message, word for word ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{}", "KeyError('mean')"),
        ("not json", "JSONDecodeError("),
        ('{"mean": [0, "x"], "std": [1, 1]}', "ValueError("),
        ('{"mean": 3, "std": [1, 1]}', "TypeError("),
        ('{"mean": [0, 0], "std": [1, 1], "n_points": 1e999}', "OverflowError("),
    ],
)
def test_malformed_norm_stats(text, why):
    with pytest.raises(GenseqError) as e:
        NormStats.from_json(text)
    assert str(e.value).startswith(f"malformed normalisation statistics ({why}")


@pytest.mark.parametrize(
    "d",
    [
        '{"mean": [0, 0], "std": [1, 0]}',
        '{"mean": [0, 0], "std": [1, -2]}',
        '{"mean": [0, NaN], "std": [1, 1]}',
        '{"mean": [0, 0, 0], "std": [1, 1, 1]}',
        '{"mean": [0, 0], "std": [1, Infinity]}',
    ],
)
def test_norm_stats_out_of_range(d):
    with pytest.raises(GenseqError) as e:
        NormStats.from_json(d)
    assert str(e.value) == "malformed normalisation statistics (2 finite means, 2 stds > 0)"


def test_unknown_cleaning_step(tmp_path, capsys):
    from genseq.cli import main

    with pytest.raises(GenseqError) as e:
        CleanConfig(extra=("dedupe", "smooth", "x"))
    assert str(e.value) == "unknown cleaning step(s) smooth, x: have dedupe"
    (tmp_path / "iam").mkdir()
    argv = ["hand", "prepare", "--iam", str(tmp_path / "iam"), "--out", str(tmp_path / "c.npz")]
    assert main([*argv, "--clean", "paper", "--clean", "smooth"]) == 2
    err = capsys.readouterr().err
    assert err == "genseq: error: unknown cleaning step(s) smooth: have dedupe\n"
