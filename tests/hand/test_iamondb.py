from __future__ import annotations

import numpy as np
import pytest

from genseq.errors import GenseqError
from genseq.hand.data import HandBatches, HandCache, HandDataset, build_cache
from genseq.hand.iamondb import (
    MALFORMED,
    NO_TEXT,
    TRUNCATED,
    parse_csr,
    parse_strokes_xml,
    read_iamondb,
)
from tests.conftest import skip_without_data
from tests.hand.conftest import MALFORMED_ID, NO_TEXT_ID, same_cache


@pytest.mark.parametrize("workers", [1, 2])
def test_round_trip_exact(iam, workers):
    root, expected = iam
    db = read_iamondb(root, workers=workers, progress=False)
    got = {ln.id: ln for ln in db.lines}
    assert sorted(got) == sorted(expected)
    assert [ln.id for ln in db.lines] == sorted(expected)  # sorted by id
    for lid, e in expected.items():
        ln = got[lid]
        np.testing.assert_array_equal(ln.xy, e.xy)
        np.testing.assert_array_equal(ln.eos, e.eos)
        np.testing.assert_allclose(ln.time, e.time, atol=1e-9)
        assert ln.text == e.text, lid
        assert ln.split == e.split, lid
        assert ln.form == lid.rsplit("-", 1)[0]
        assert ln.n_strokes == 3


def test_problems_counted_not_fatal(iam):
    root, _ = iam
    db = read_iamondb(root, workers=1, progress=False)
    assert db.problems[MALFORMED] == [MALFORMED_ID]
    assert db.problems[NO_TEXT] == [NO_TEXT_ID]
    assert next(ln for ln in db.lines if ln.id == NO_TEXT_ID).text is None
    sizes = db.split_sizes()
    assert sizes == {"trainset": 3, "testset_v": 2, "testset_t": 1, "testset_f": 2, "none": 1}
    assert db.paper_sizes() == {"train": 6, "valid": 2}
    assert "malformed XML: 1" in db.summary()


def test_truncated_archive_reported(iam_packed):
    root, expected = iam_packed
    arch = root / "lineStrokes-all.tar.gz"
    data = arch.read_bytes()
    arch.write_bytes(data[: int(len(data) * 0.6)])
    db = read_iamondb(root, workers=1, progress=False)
    assert TRUNCATED in db.problems
    assert 0 < len(db.lines) < len(expected)
    for ln in db.lines:  # what was read is intact
        np.testing.assert_array_equal(ln.xy, expected[ln.id].xy)


def test_not_an_archive_is_a_user_error(iam_packed):
    root, _ = iam_packed
    (root / "ascii-all.tar.gz").write_bytes(b"this is not gzip at all" * 10)
    with pytest.raises(GenseqError, match="not a readable tar archive"):
        read_iamondb(root, workers=1, progress=False)


def test_wrong_paths(tmp_path, iam_packed):
    with pytest.raises(GenseqError, match="not found"):
        read_iamondb(tmp_path / "nope", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenseqError, match="lineStrokes-all.tar.gz"):
        read_iamondb(tmp_path / "empty", progress=False)
    root, _ = iam_packed
    (root / "splits" / "testset_f.txt").unlink()
    with pytest.raises(GenseqError, match="testset_f.txt"):
        read_iamondb(root, progress=False)


def test_parse_helpers():
    xy, eos, t = parse_strokes_xml(
        b'<a><StrokeSet><Stroke><Point y="2" x="1" time="0.5"/><Point x="3" y="4" time="0.6"/>'
        b'</Stroke><Stroke></Stroke><Stroke><Point x="5" y="6" time="0.7"/></Stroke>'
        b"</StrokeSet></a>"
    )
    np.testing.assert_array_equal(xy, [[1, 2], [3, 4], [5, 6]])  # attribute order irrelevant
    np.testing.assert_array_equal(eos, [0, 1, 1])  # the empty stroke adds nothing
    with pytest.raises(ValueError, match="malformed"):
        parse_strokes_xml(b'<a><Stroke><Point x="1"/></Stroke></a>')
    with pytest.raises(ValueError, match="malformed"):
        parse_strokes_xml(b"<a><Stroke>")
    assert parse_csr(b"OCR:\n\nx y\n\nCSR: \n\n first  \n\n\nsecond\n") == ["first", "second"]
    with pytest.raises(ValueError):
        parse_csr(b"OCR:\nonly\n")


# --- the real IAM-OnDB (skipped when the shared data is absent) ------------------------------
@pytest.mark.slow
def test_real_iamondb(data_root, tmp_path):
    """One parse of the shared archives (~15-30 s on 2 cores) checks the reader and the cache."""
    if not (data_root / "iamondb").is_dir():
        skip_without_data(f"no iamondb/ in {data_root}")
    db = read_iamondb(data_root / "iamondb", workers=2, progress=False)
    assert len(db.lines) == 12195  # every XML line parses
    sizes = db.split_sizes()
    assert (sizes["trainset"], sizes["testset_v"], sizes["testset_t"], sizes["testset_f"]) == (
        5364,
        1438,
        1518,
        3859,
    )
    assert db.paper_sizes() == {"train": 10741, "valid": 1438}  # Graves (2013) §4
    assert len(db.problems[NO_TEXT]) == 8  # as the data README says
    assert MALFORMED not in db.problems and TRUNCATED not in db.problems
    forms = [f for v in db.split_forms.values() for f in v]
    assert len(forms) == len(set(forms))  # no form in two lists
    first = next(ln for ln in db.lines if ln.id == "a01-000u-01")
    assert first.text == "A MOVE to stop Mr . Gaitskell"
    assert first.split == "testset_t" and len(first.xy) == 568

    # the cache: the paper's sets, training statistics, fast and exact reload
    cache = build_cache(db)
    assert len(cache.select("train")) == 10741 and len(cache.select("valid")) == 1438
    assert len(HandDataset(cache, "train")) == 10740  # a08-551z-09 has no transcription
    assert len(cache.alphabet) == 82 and len(HandDataset(cache, alphabet="paper57").alphabet) == 57
    assert abs(cache.stats.mean[0] - 8.17) < 0.5 and 35 < cache.stats.std[0] < 50
    path = cache.save(tmp_path / "iam.npz")
    loaded = HandCache.load(path)  # its speed: `genseq bench --only cache` (goal <= 2 s)
    same_cache(cache, loaded)
    b = HandBatches(HandDataset(loaded, "valid"), batch_size=64, seed=0).batch(0, 0)
    assert b["strokes"].shape[0] == 64 and b["strokes"][b["mask"]][:, :2].abs().mean() < 3
