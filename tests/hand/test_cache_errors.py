"""Every message genseq.hand.cache refuses with, through `genseq hand prepare` / `hand show`
(exit 2, one line on stderr) or the Python API, checked word for word."""

from __future__ import annotations

import re

import pytest

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.cache import HandCache
from genseq.hand.data import HandDataset


def cli_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genseq: error: ")
    return err.strip()


def prepare(root, out) -> list:
    return ["hand", "prepare", "--iam", root, "--out", out, "--quiet", "--workers", "1"]


def test_prepare_with_no_usable_line(iam_packed, tmp_path, capsys):
    root, _ = iam_packed
    argv = [*prepare(root, tmp_path / "c.npz"), "--min-points", "1000000"]
    err = cli_error(capsys, argv)
    assert err.endswith("no usable IAM-OnDB lines (see the problems reported above)")
    assert not (tmp_path / "c.npz").exists()


def test_prepare_with_no_training_line(iam_packed, tmp_path, capsys):
    root, _ = iam_packed
    for s in ("trainset", "testset_t", "testset_f"):  # only the validation forms are listed
        (root / "splits" / f"{s}.txt").write_text("")
    err = cli_error(capsys, prepare(root, tmp_path / "c.npz"))
    assert err.endswith("no training lines in trainset, testset_t, testset_f: cannot normalise")


def test_show_a_line_the_cache_lacks(tiny_cache, tmp_path, capsys):
    first = HandCache.load(tiny_cache).ids[0]
    argv = ["hand", "show", "--data", tiny_cache, "--line", "zz-1", "-o", tmp_path / "x.png"]
    err = cli_error(capsys, argv)
    assert err.endswith(f"no line 'zz-1' in the cache (ids look like {first!r})")


def test_show_a_missing_cache(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    err = cli_error(capsys, ["hand", "show", "--data", missing, "-o", tmp_path / "x.png"])
    assert err.endswith(f"handwriting cache not found: {missing} (make it: genseq hand prepare)")


@pytest.mark.parametrize("name", ["c.bin", "c.npz.tmp", "c"])
def test_save_needs_npz(tiny_cache, tmp_path, name):
    cache = HandCache.load(tiny_cache)
    with pytest.raises(GenseqError, match=re.escape(f"cache file must end in .npz: {tmp_path}")):
        cache.save(tmp_path / name)


@pytest.mark.parametrize("split", ["test", "Train", ""])
def test_unknown_split(tiny_cache, split):
    cache = HandCache.load(tiny_cache)
    want = (
        f"unknown split {split!r}: use train, valid, all or one of "
        "trainset, testset_v, testset_t, testset_f"
    )
    with pytest.raises(GenseqError, match=re.escape(want)):
        HandDataset(cache, split)
    with pytest.raises(GenseqError, match="use train, valid, all or one of"):
        cache.select(("train", split))
