"""The paper's correction of recording errors (§4), on hand-made whiteboard XML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genseq.hand.clean import (
    PaperClean,
    fill_gaps,
    paper_clean,
    remove_long_steps,
    sampling_period,
)
from genseq.hand.iamondb import parse_strokes_xml
from genseq.hand.strokes import CleanConfig, clean_line, to_offsets
from tests.hand.conftest import _xml, build_iam

PERIOD = 0.015  # the board's ~67 Hz, stamped to 10 ms as in IAM-OnDB


def _stamps(n: int, t0: float = 100.0) -> np.ndarray:
    """Readings every 15 ms, stamped down to 10 ms: gaps alternate 0.01 / 0.02 s."""
    return t0 + np.floor(np.arange(n) * PERIOD / 0.01 + 1e-9) * 0.01


def _parse(xy: np.ndarray, eos: np.ndarray, t: np.ndarray):
    return parse_strokes_xml(
        _xml(np.asarray(xy, np.float32), np.asarray(eos, np.uint8), t).encode()
    )


def _straight_stroke(n: int, dx: int = 20, dy: int = -10) -> np.ndarray:
    return np.array([(1000 + dx * k, 2000 + dy * k) for k in range(n)], np.float32)


def test_sampling_period_sees_through_the_10ms_stamps():
    t = _stamps(40)
    assert set(np.round(np.diff(t), 3)) == {0.01, 0.02}
    eos = np.zeros(40, np.uint8)
    eos[-1] = 1
    assert sampling_period(t, eos) == pytest.approx(PERIOD)


def test_missing_readings_are_put_back_where_they_were():
    full = _straight_stroke(30)
    t_full = _stamps(30)
    lost = np.r_[10:14, 20:23]  # two dropouts: 4 readings and 3 readings
    keep = np.setdiff1d(np.arange(30), lost)
    eos = np.zeros(len(keep), np.uint8)
    eos[-1] = 1
    xy, e, t = _parse(full[keep], eos, t_full[keep])  # what the XML holds
    filled, e2, t2, counts = fill_gaps(xy, e, t, PaperClean())
    assert (counts.interpolated, counts.gaps) == (7, 2)
    np.testing.assert_array_equal(filled, full)  # constant speed: exactly the lost readings
    assert e2.tolist() == [0] * 29 + [1]
    np.testing.assert_allclose(
        t2[10:14], t_full[9] + (t_full[14] - t_full[9]) * np.arange(1, 5) / 5
    )


def test_short_gaps_pen_up_gaps_and_glitches_are_not_filled():
    xy = np.concatenate([_straight_stroke(10), _straight_stroke(10) + [0, 300]])
    eos = np.zeros(20, np.uint8)
    eos[[9, 19]] = 1
    t = _stamps(20)
    t[10:] += 0.5  # pen up for half a second between the strokes: not a dropout
    t[5:10] += 0.02  # +2 stamps inside stroke 1: a 3-period gap, clock jitter
    t[15:] += 30.0  # a 30 s jump inside stroke 2: a clock glitch, not 2,000 readings
    out, e2, _, counts = fill_gaps(*_parse(xy, eos, t), PaperClean())
    assert counts.interpolated == 0 and len(out) == 20
    np.testing.assert_array_equal(e2, eos)


def test_long_pen_down_step_is_removed_and_the_rest_keeps_its_shape():
    a = _straight_stroke(8)
    b = a[-1] + 400 + (a - a[0])  # the same stroke, displaced by a 566-unit pen-down jump
    c = _straight_stroke(6) + [3000, 0]  # next stroke: a 1,800-unit pen-up move, kept
    xy = np.concatenate([a, b, c])
    eos = np.zeros(len(xy), np.uint8)
    eos[[15, 21]] = 1
    out, e2, removed = remove_long_steps(*_parse(xy, eos, _stamps(len(xy)))[:2], 250.0)
    assert removed == 1 and len(out) == len(xy) - 1
    before, after = to_offsets(xy, eos), to_offsets(out, e2)
    np.testing.assert_array_equal(after, np.delete(before, 8, axis=0))  # one step gone
    assert e2.sum() == 2 and e2[14] == 1 and e2[-1] == 1


def test_a_removed_last_point_hands_on_its_end_of_stroke():
    xy = np.concatenate([_straight_stroke(6), [[5000, 2000]], _straight_stroke(5) + [0, 500]])
    eos = np.zeros(len(xy), np.uint8)
    eos[[6, 11]] = 1  # the jump leads to stroke 1's last point
    out, e2, removed = remove_long_steps(xy, eos, 250.0)
    assert removed == 1
    assert e2.tolist() == [0] * 5 + [1] + [0] * 4 + [1]
    np.testing.assert_array_equal(out[:6], xy[:6])


def test_clean_line_runs_both_corrections_and_counts_them():
    full = _straight_stroke(40)
    full[30:] += [0, 900]  # a glitch jump at reading 30
    keep = np.setdiff1d(np.arange(40), np.r_[10:15])
    eos = np.zeros(len(keep), np.uint8)
    eos[-1] = 1
    xy, e, t = _parse(full[keep], eos, _stamps(40)[keep])
    cfg = CleanConfig(paper=PaperClean())
    from genseq.hand.clean import CleanCounts

    counts = CleanCounts()
    off, reason = clean_line(xy, e, "hi", cfg, t, counts)
    assert reason is None
    assert (counts.interpolated, counts.removed) == (5, 1)
    assert len(off) == 39 and np.abs(off[1:, :2]).max() <= 20
    with pytest.raises(ValueError, match="timestamps"):
        clean_line(xy, e, "hi", cfg)


def test_paper_clean_is_identity_on_clean_lines():
    xy = _straight_stroke(30)
    eos = np.zeros(30, np.uint8)
    eos[-1] = 1
    out, e2, counts = paper_clean(xy, eos, _stamps(30), PaperClean())
    np.testing.assert_array_equal(out, xy)
    np.testing.assert_array_equal(e2, eos)
    assert (counts.interpolated, counts.removed) == (0, 0)


def test_prepare_clean_paper_is_recorded_in_the_cache_and_the_model(tmp_path, capsys):
    from genseq.cli import main
    from genseq.hand.data import HandCache
    from tests.hand.conftest import train_tiny

    root = tmp_path / "iamondb"
    build_iam(root, packed=False)
    out = tmp_path / "paper.npz"
    argv = ["hand", "prepare", "--iam", str(root), "--out", str(out), "--quiet", "--workers", "1"]
    assert main([*argv, "--clean", "paper"]) == 0
    assert "preprocessing: paper (" in capsys.readouterr().out
    cache = HandCache.load(out)
    assert cache.meta["preprocessing"] == "paper"
    assert cache.meta["clean"]["paper"] == {"gap_factor": 3.5, "max_gap": 1.0, "max_step": 250.0}
    assert set(cache.meta["clean_counts"]) == {"interpolated", "gaps", "removed"}
    assert main([*argv[:5], str(tmp_path / "raw.npz"), *argv[6:]]) == 0
    assert HandCache.load(tmp_path / "raw.npz").preprocessing["name"] == "raw"
    model = tmp_path / "model"
    assert train_tiny(out, model, "predict") == 0
    config = json.loads((model / "config.json").read_text())
    assert config["preprocessing"]["name"] == "paper"
    assert config["preprocessing"]["paper"]["max_step"] == 250.0
