from __future__ import annotations

import argparse
import zipfile
from collections import Counter

import numpy as np
import pytest
import torch

from genseq.cli import hand as hand_cli
from genseq.errors import GenseqError
from genseq.hand.batches import oversample
from genseq.hand.data import (
    NOT_IN_SPLIT,
    HandBatches,
    HandCache,
    HandDataset,
    build_cache,
    cache_summary,
)
from genseq.hand.iamondb import read_iamondb
from genseq.hand.strokes import TOO_FEW_PER_CHAR, CleanConfig, to_offsets
from tests.hand.conftest import NO_TEXT_ID, same_cache

CFG = CleanConfig(min_points=5, min_points_per_char=0)


@pytest.fixture
def cache(iam_packed) -> HandCache:
    root, _ = iam_packed
    return build_cache(read_iamondb(root, workers=1, progress=False), CFG)


def test_cache_content(iam_packed, cache):
    _, expected = iam_packed
    kept = {k: e for k, e in expected.items() if e.split is not None}
    assert cache.ids == sorted(kept)
    for i, lid in enumerate(cache.ids):
        np.testing.assert_array_equal(cache.raw(i), to_offsets(kept[lid].xy, kept[lid].eos))
        assert cache.texts[i] == (kept[lid].text or "")
    assert cache.meta["dropped"] == {NOT_IN_SPLIT: ["z00-001-01"]}
    assert cache.meta["clean"]["min_points"] == 5
    assert cache.position("c03-005-02") == cache.ids.index("c03-005-02")
    with pytest.raises(GenseqError, match="no line"):
        cache.position("zz")
    s = cache_summary(cache)
    assert "paper train set" in s and "form in no split list: 1" in s


def test_cache_loads_identically(tmp_path, iam, cache):
    root, _ = iam  # both the packed and the unpacked archives give the same cache
    fresh = build_cache(read_iamondb(root, workers=1, progress=False), CFG)
    same_cache(fresh, cache)
    path = fresh.save(tmp_path / "c.npz")
    loaded = HandCache.load(path)
    same_cache(fresh, loaded)
    with np.load(path, allow_pickle=False) as z:  # no pickled objects inside
        assert set(z.files) == {"points", "index", "ids", "texts", "splits", "meta"}


def test_cache_errors(tmp_path, cache):
    with pytest.raises(GenseqError, match="not found"):
        HandCache.load(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(GenseqError, match="not a genseq handwriting cache"):
        HandCache.load(tmp_path / "bad.npz")
    with pytest.raises(GenseqError, match=".npz"):
        cache.save(tmp_path / "c.bin")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(GenseqError, match="not a genseq handwriting cache"):
        HandCache.load(tmp_path / "other.npz")
    assert zipfile.is_zipfile(cache.save(tmp_path / "ok.npz"))


def test_dataset(cache):
    ds = HandDataset(cache, "train")
    assert NO_TEXT_ID not in [ds[i].id for i in range(len(ds))]  # synthesis needs text
    assert len(HandDataset(cache, "train", require_text=False)) == len(ds) + 1
    assert len(HandDataset(cache, "valid")) == 2
    assert len(HandDataset(cache, ("testset_t", "testset_v"))) == 3
    line = ds[0]
    assert line.strokes.dtype == np.float32
    raw = cache.raw(cache.position(line.id))
    np.testing.assert_allclose(line.strokes, cache.stats.normalise(raw))
    assert ds.alphabet.decode(line.codes) == line.text
    p57 = HandDataset(cache, "train", alphabet="paper57")
    assert len(p57.alphabet) == 57
    all_train = np.concatenate([ds.strokes(i) for i in range(len(HandDataset(cache)))])
    assert abs(all_train[:, 0].mean()) < 0.2  # ~normalised (the no-text line is left out)
    with pytest.raises(GenseqError, match="unknown split"):
        HandDataset(cache, "test")
    assert ds.index_of(line.id) == 0


def _many_lines_cache(n: int = 37) -> HandCache:
    rng = np.random.default_rng(0)
    lens = rng.integers(5, 60, n)
    pts = [np.c_[rng.normal(size=(t, 2)), (rng.random(t) < 0.1)].astype(np.float32) for t in lens]
    from genseq.hand.alphabet import Alphabet
    from genseq.hand.strokes import NormStats

    texts = ["ab" * int(rng.integers(1, 6)) for _ in range(n)]
    return HandCache(
        ids=[f"l{i:03d}" for i in range(n)],
        texts=texts,
        splits=["trainset"] * n,
        points=np.concatenate(pts),
        index=np.r_[0, np.cumsum(lens)].astype(np.int64),
        stats=NormStats((0.0, 0.0), (1.0, 1.0)),
        alphabet=Alphabet.from_texts(texts),
    )


def test_cache_non_integral_points_exact(tmp_path):
    c = _many_lines_cache()  # float offsets (e.g. after opt-in smoothing): stored as float32
    c.meta = {"version": 1}
    loaded = HandCache.load(c.save(tmp_path / "f.npz"))
    same_cache(c, loaded)
    with np.load(tmp_path / "f.npz", allow_pickle=False) as z:
        assert z["points"].dtype == np.float32
    assert not (tmp_path / "f.npz.part").exists()


def test_batches_deterministic_and_masked():
    ds = HandDataset(_many_lines_cache())
    hb = HandBatches(ds, batch_size=8, seed=3, pool=2)
    assert len(hb) == 5
    ep0 = [hb.batch(0, i) for i in range(len(hb))]
    # every line exactly once per epoch
    assert sorted(i for b in ep0 for i in b["ids"]) == sorted(ds.cache.ids)
    # resuming: a fresh batcher gives the same batch i of epoch e, in any order of calls
    hb2 = HandBatches(ds, batch_size=8, seed=3, pool=2)
    b = hb2.batch(0, 3)
    for k in ("strokes", "mask", "text", "text_mask"):
        assert torch.equal(b[k], ep0[3][k])
    assert [x["ids"] for x in hb2.epoch(1)] != [x["ids"] for x in ep0]  # a new order each epoch
    assert [x["ids"] for x in hb.epoch(0, start=2)] == [x["ids"] for x in ep0[2:]]
    other = HandBatches(ds, batch_size=8, seed=4, pool=2)
    assert [x["ids"] for x in other.epoch(0)] != [x["ids"] for x in ep0]
    for bt in ep0:
        x, m, t, tm = bt["strokes"], bt["mask"], bt["text"], bt["text_mask"]
        assert x.dtype == torch.float32 and m.dtype == torch.bool and t.dtype == torch.long
        assert x.shape[:2] == m.shape and t.shape == tm.shape and x.shape[2] == 3
        for j, lid in enumerate(bt["ids"]):
            k = ds.index_of(lid)
            n = int(ds.lengths[k])
            assert m[j].sum() == n == bt["lengths"][j] and m[j, :n].all()
            assert torch.equal(x[j, :n], torch.from_numpy(ds.strokes(k)))
            assert (x[j, n:] == 0).all()
            u = len(ds.codes[k])
            assert tm[j].sum() == u and (t[j, u:] == 0).all() and (t[j, :u] > 0).all()
    # bucketing: with one pool, batches hold disjoint length ranges
    one_pool = HandBatches(ds, batch_size=8, seed=3, pool=100)
    ranges = sorted(
        (b["lengths"].min().item(), b["lengths"].max().item()) for b in one_pool.epoch(0)
    )
    assert all(hi <= lo for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False))


@pytest.mark.parametrize("crop", [None, 10])
def test_batch_lengths_without_loading(crop):
    ds = HandDataset(_many_lines_cache())
    hb = HandBatches(ds, batch_size=8, seed=3, pool=2, crop_len=crop)
    for e in (0, 1):
        want = [hb.batch(e, i)["strokes"].shape[1] for i in range(len(hb))]
        assert HandBatches(ds, batch_size=8, seed=3, pool=2, crop_len=crop).batch_lengths(e) == want


def test_batches_crop():
    ds = HandDataset(_many_lines_cache())
    hb = HandBatches(ds, batch_size=8, seed=0, crop_len=10)
    for e in (0, 1):
        for i in range(len(hb)):
            bt = hb.batch(e, i)
            assert bt["strokes"].shape[1] <= 10
            for j, (lid, s) in enumerate(zip(bt["ids"], bt["starts"], strict=True)):
                k = ds.index_of(lid)
                n = min(int(ds.lengths[k]), 10)
                assert 0 <= s <= max(int(ds.lengths[k]) - 10, 0)
                assert torch.equal(bt["strokes"][j, :n], torch.from_numpy(ds.strokes(k)[s : s + n]))
    starts = [s for i in range(len(hb)) for s in hb.batch(0, i)["starts"]]
    assert len(set(starts)) > 3  # random windows, not always the beginning
    with pytest.raises(GenseqError):
        HandBatches(ds, batch_size=0)


def test_batches_repeat_lines_as_many_times_an_epoch_as_asked():
    ds = HandDataset(_many_lines_cache())
    rep = np.ones(len(ds), np.int64)
    rep[[0, 5]] = 3
    hb = HandBatches(ds, batch_size=8, seed=3, pool=2, repeats=rep)
    assert len(hb) == -(-(len(ds) + 4) // 8)
    want = {lid: 3 if k in (0, 5) else 1 for k, lid in enumerate(ds.cache.ids)}
    for e in (0, 1):
        assert Counter(i for b in hb.epoch(e) for i in b["ids"]) == want
    again = HandBatches(ds, batch_size=8, seed=3, pool=2, repeats=rep)  # resume: same order
    assert [b["ids"] for b in again.epoch(1)] == [b["ids"] for b in hb.epoch(1)]
    assert [b["ids"] for b in hb.epoch(0)] != [b["ids"] for b in hb.epoch(1)]
    for bad in (rep[:-1], rep - 1):
        with pytest.raises(GenseqError, match="one count >= 1 per line"):
            HandBatches(ds, batch_size=8, repeats=bad)


def test_oversample_repeats_the_lines_whose_text_matches():
    ds = HandDataset(_many_lines_cache())
    rep = oversample(ds, "(ab){5}=4")
    texts = [ds.cache.texts[p] for p in ds.positions]
    assert rep.tolist() == [4 if t == "ab" * 5 else 1 for t in texts] and 4 in rep
    for spec in ("ab", "=3", "ab=0", "ab=x", "ab=1001"):
        with pytest.raises(GenseqError) as e:
            oversample(ds, spec)
        assert "--oversample takes REGEX=K with K in 1..1000, got" in str(e.value)
    with pytest.raises(GenseqError, match="is not a regular expression"):
        oversample(ds, "(ab=2")
    with pytest.raises(GenseqError, match="no train line matches"):
        oversample(ds, "[0-9]=2")


# --- the command line ---------------------------------------------------------------------
def _main(argv: list[str]) -> int:
    from genseq.cli import main

    return main(argv)


def test_cli_prepare_and_show(tmp_path, iam_packed, capsys):
    root, _ = iam_packed
    out = tmp_path / "iam.npz"
    assert (
        _main(
            [
                "hand",
                "prepare",
                "--iam",
                str(root),
                "--out",
                str(out),
                "--quiet",
                "--min-points",
                "5",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "paper train set" in text and "no transcription: 1" in text and "alphabet" in text
    cache = HandCache.load(out)
    assert len(cache) == 8 and TOO_FEW_PER_CHAR not in cache.meta["dropped"]
    png = tmp_path / "l.png"
    assert _main(["hand", "show", "--data", str(out), "--line", "c03-005-02", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "subject" in capsys.readouterr().out
    assert _main(["hand", "show", "--data", str(out), "-o", str(tmp_path / "l.svg")]) == 0


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["hand", "prepare", "--iam", "{tmp}/nope", "--out", "{tmp}/x.npz"], "not found"),
        (["hand", "prepare", "--iam", "{root}", "--out", "{tmp}/x.txt"], ".npz"),
        (["hand", "prepare", "--iam", "{root}", "--out", "{tmp}/no/x.npz"], "output folder"),
        (["hand", "show", "--data", "{tmp}/nope.npz", "-o", "{tmp}/x.png"], "not found"),
        (["hand", "show", "--data", "{cache}", "--line", "zz", "-o", "{tmp}/x.png"], "no line"),
        (["hand", "show", "--data", "{cache}", "-o", "{tmp}/x.gif"], ".svg"),
    ],
)
def test_cli_errors_exit_2(tmp_path, iam_packed, cache, capsys, argv, msg):
    root, _ = iam_packed
    cpath = cache.save(tmp_path / "c.npz")
    argv = [a.format(tmp=tmp_path, root=root, cache=cpath) for a in argv]
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genseq: error:") and msg in err


def test_cli_prepare_env_default(tmp_path, iam_packed, monkeypatch, capsys):
    root, _ = iam_packed
    monkeypatch.delenv("GENSEQ_DATA", raising=False)
    assert _main(["hand", "prepare", "--out", str(tmp_path / "x.npz")]) == 2
    assert "GENSEQ_DATA" in capsys.readouterr().err
    monkeypatch.setenv("GENSEQ_DATA", str(root.parent))
    assert (
        _main(
            [
                "hand",
                "prepare",
                "--out",
                str(tmp_path / "x.npz"),
                "--quiet",
                "--workers",
                "1",
                "--min-points",
                "5",
            ]
        )
        == 0
    )


def test_register_exposes_hand_group():
    p = argparse.ArgumentParser()
    hs = hand_cli.register(p.add_subparsers(dest="command"))
    assert hs is hand_cli.HAND_COMMANDS
    hs.add_parser("extra").set_defaults(func=lambda a: 0)  # others can add theirs
    assert p.parse_args(["hand", "extra"]).hand_command == "extra"
    assert {"prepare", "show", "train", "eval", "sample"} <= set(hs.choices)
