"""genseq.hand.peek: the first lines of IAM-OnDB without preparing it."""

from __future__ import annotations

import numpy as np
import pytest

from genseq.errors import GenseqError
from genseq.hand.peek import peek_lines
from tests.conftest import skip_without_data
from tests.hand.conftest import MALFORMED_ID, NO_TEXT_ID


def test_first_lines_in_archive_order_with_their_text(iam):
    root, expected = iam
    lines = peek_lines(root, n=3)
    assert len(lines) == 3
    for ln in lines:
        e = expected[ln.id]
        np.testing.assert_array_equal(ln.xy, e.xy)
        np.testing.assert_array_equal(ln.eos, e.eos)
        assert ln.text == e.text
    everything = peek_lines(root, n=100)
    ids = {ln.id for ln in everything}
    assert MALFORMED_ID not in ids and NO_TEXT_ID not in ids  # skipped, not fatal
    assert ids == {k for k, e in expected.items() if e.text}


def test_bad_folders_and_counts(tmp_path, iam_packed):
    with pytest.raises(GenseqError, match="not found"):
        peek_lines(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenseqError, match="lineStrokes"):
        peek_lines(tmp_path / "empty")
    with pytest.raises(GenseqError, match="n >= 1"):
        peek_lines(iam_packed[0], n=0)


def test_real_iamondb_first_lines(data_root):
    root = data_root / "iamondb"
    if not root.is_dir():
        skip_without_data(f"IAM-OnDB absent: {root}")
    lines = peek_lines(root, n=5)
    assert len(lines) == 5
    assert all(ln.text and len(ln.xy) >= 20 and ln.eos[-1] == 1 for ln in lines)


def test_error_messages_word_for_word(tmp_path, iam_packed, capsys):
    from genseq.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    want = f"{empty} has neither lineStrokes-all.tar.gz nor an unpacked lineStrokes/ folder"
    with pytest.raises(GenseqError) as e:
        peek_lines(empty)
    assert str(e.value) == want
    assert main(["hand", "prepare", "--iam", str(empty), "--out", str(tmp_path / "c.npz")]) == 2
    assert capsys.readouterr().err == f"genseq: error: {want}\n"
    root, _ = iam_packed
    (root / "ascii-all.tar.gz").unlink()  # the strokes without their transcriptions
    with pytest.raises(GenseqError, match="has neither ascii-all.tar.gz nor an unpacked ascii/"):
        peek_lines(root)
    for n in (0, -2):
        with pytest.raises(GenseqError, match=f"^peek_lines needs n >= 1, got {n}$"):
            peek_lines(root, n=n)
