"""Every message genseq.hand.task and genseq.hand.batches refuse with, through `genseq hand
train` / `hand eval` (exit 2, one line on stderr) or the Python API, checked word for word."""

from __future__ import annotations

import numpy as np
import pytest

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.batches import HandBatches
from genseq.hand.cache import HandCache
from genseq.hand.dataset import HandDataset
from genseq.hand.strokes import NormStats
from genseq.hand.task import HandTask, evaluate
from tests.hand.test_task import FakeBatches, make


def cli_error(capsys, argv: list) -> str:
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genseq: error: ")
    return err.strip()


def small_cache(path, lines: dict[str, list[int]]) -> HandCache:
    """A cache saved at `path`: {split: [points of each line]} with random offsets."""
    g = np.random.default_rng(0)
    splits = [s for s, lens in lines.items() for _ in lens]
    lens = [n for ns in lines.values() for n in ns]
    pts = [np.c_[g.normal(size=(n, 2)) * 10, np.arange(n) == n - 1] for n in lens]
    texts = ["ab"] * len(lens)
    c = HandCache(
        ids=[f"x{i:02d}-000-01" for i in range(len(lens))],
        texts=texts,
        splits=splits,
        points=np.concatenate(pts).astype(np.float32),
        index=np.r_[0, np.cumsum(lens)].astype(np.int64),
        stats=NormStats((0.0, 0.0), (10.0, 10.0)),
        alphabet=Alphabet.from_texts(texts),
        meta={"version": 1},
    )
    c.save(path)
    return c


def train_argv(data, out, *extra) -> list:
    flags = "--hidden 4 --layers 1 --mixtures 2 --steps 1 --no-progress".split()
    return ["hand", "train", "--task", "predict", "--data", data, "--out", out, *flags, *extra]


# ---- genseq/hand/batches.py ----------------------------------------------------------------


@pytest.mark.parametrize("crop", ["1", "-3"])
def test_crop_length_below_two(tiny_cache, tmp_path, capsys, crop):
    err = cli_error(capsys, train_argv(tiny_cache, tmp_path / "run", "--crop-len", crop))
    assert err.endswith(f"crop length must be >= 2, got {crop}")


def test_a_cache_without_validation_lines(tmp_path, capsys, tiny_predict):
    data = tmp_path / "c.npz"
    small_cache(data, {"trainset": [30, 40]})
    err = cli_error(capsys, train_argv(data, tmp_path / "run"))
    assert err.endswith("no lines in the valid set")
    err = cli_error(capsys, ["hand", "eval", "--model", tiny_predict, "--data", data])
    assert err.endswith("no lines in the valid set")
    with pytest.raises(GenseqError, match="no lines in the testset_f set"):
        HandBatches(HandDataset(data, "testset_f"), 2)


# ---- genseq/hand/task.py -------------------------------------------------------------------


def test_validation_lines_without_scored_points(tmp_path, capsys, tiny_predict):
    """Each line's first point is not scored: lines of one point leave nothing to score."""
    data = tmp_path / "c.npz"
    small_cache(data, {"trainset": [30], "testset_v": [1, 1]})
    err = cli_error(capsys, ["hand", "eval", "--model", tiny_predict, "--data", data])
    assert err.endswith("the validation data has no points")


def test_evaluate_on_no_batches():
    with pytest.raises(GenseqError, match="^the validation data has no points$"):
        evaluate(make("predict"), FakeBatches(n=0))


def test_a_task_without_validation_data():
    with pytest.raises(GenseqError, match="^no validation data$"):
        HandTask(FakeBatches(), None).evaluate(make("predict"))


def test_tbptt_chunks_need_to_know_the_lengths():
    with pytest.raises(GenseqError) as e:
        HandTask(FakeBatches(), None, chunk_len=4)  # no crops, no chunks_per_batch
    assert str(e.value) == (
        "TBPTT chunks need crops (crop_len), chunks_per_batch, or a batcher that knows its "
        "batch lengths"
    )
