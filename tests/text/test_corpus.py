"""Corpus readers, Vocab and StreamBatches (genseq.text.corpus)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from genseq.errors import GenseqError
from genseq.text.corpus import FORMATS, Corpus, StreamBatches, Vocab, load_corpus

# ----------------------------------------------------------------------------- Vocab


def test_vocab_char_roundtrip_and_json():
    text = "hello world\nbye é\n"
    v = Vocab.build(text, "char")
    assert v.symbols == sorted(set(text)) and v.level == "char" and v.unk is None
    ids = v.encode(text)
    assert len(ids) == len(text) and ids[0] == v.symbols.index("h")
    assert v.decode(ids) == text
    w = Vocab.from_json(v.to_json())
    assert w == v and w.encode(text) == ids
    assert v.encode_tensor(text).dtype == torch.int64


def test_vocab_word_eos_and_unk():
    v = Vocab.build("b a <unk>\nc a\n", "word")
    assert v.symbols == ["<eos>", "<unk>", "a", "b", "c"] and v.unk == "<unk>"
    ids = v.encode("a b\nc zebra\n")
    assert ids == [2, 3, 0, 4, 1, 0]  # "\n" -> <eos>, unknown word -> <unk>
    assert v.decode(ids) == "a b\nc <unk>\n"
    assert v.decode(v.encode("b a\n\nc")) == "b a\n\nc"
    assert Vocab.from_json(v.to_json()) == v


def test_vocab_word_without_unk_names_unknown_word():
    v = Vocab.build(["x", "y"], "word")
    with pytest.raises(GenseqError, match="zebra"):
        v.encode("x zebra")


def test_vocab_char_unknown_symbol_error_names_it():
    v = Vocab.build("abc", "char")
    with pytest.raises(GenseqError, match="'z'"):
        v.encode("abz")


def test_vocab_byte_roundtrip():
    data = "naïve €\n".encode()
    v = Vocab.build(data, "byte")
    assert len(v) == len(set(data)) and all(len(s) == 1 for s in v.symbols)
    ids = v.encode(data)
    assert len(ids) == len(data) and v.decode_bytes(ids) == data
    assert v.decode(v.encode("naïve €\n")) == "naïve €\n"
    assert Vocab.from_json(v.to_json()) == v
    with pytest.raises(GenseqError, match="not in this model's vocab"):
        v.encode(b"\x00")


def test_vocab_bad_json_and_level():
    with pytest.raises(GenseqError):
        Vocab.from_json({"symbols": ["a"]})
    with pytest.raises(GenseqError):
        Vocab(["a"], "phoneme")


# ----------------------------------------------------------------------------- plain


def test_plain_file_split_90_5_5(tmp_path: Path):
    text = "".join("abcdefg\n"[i % 8] for i in range(200))
    f = tmp_path / "t.txt"
    f.write_text(text, encoding="utf-8")
    c = load_corpus(f)
    assert isinstance(c, Corpus) and c.name == "plain"
    assert [len(c.split(s)) for s in ("train", "valid", "test")] == [180, 10, 10]
    assert c.vocab.decode(c.train) == text[:180]
    assert c.vocab.decode(c.valid) == text[180:190]
    assert c.vocab.decode(c.test) == text[190:]
    assert c.train.dtype == torch.int64 and c.train.dim() == 1
    # a custom split and a given vocab
    c2 = load_corpus(f, vocab=c.vocab, split=(0.5, 0.25, 0.25))
    assert [len(c2.split(s)) for s in ("train", "valid", "test")] == [100, 50, 50]
    assert torch.equal(c2.train, torch.tensor(c.vocab.encode(text[:100])))


def test_plain_dir_of_three_and_single_file(tmp_path: Path):
    for s, t in [("train", "aab\n"), ("valid", "ba\n"), ("test", "c\n")]:
        (tmp_path / f"{s}.txt").write_text(t)
    c = load_corpus(tmp_path)
    assert c.vocab.symbols == ["\n", "a", "b", "c"]  # from all splits
    assert c.valid.tolist() == [2, 1, 0] and c.test.tolist() == [3, 0]
    one = tmp_path / "one"
    one.mkdir()
    (one / "input.txt").write_text("x" * 40)
    assert len(load_corpus(one).train) == 36


def test_plain_unknown_char_with_given_vocab(tmp_path: Path):
    f = tmp_path / "t.txt"
    f.write_text("abcabcabcabcabcabcabcabcabcabcabcabcabcabcQ")
    with pytest.raises(GenseqError, match="'Q'"):
        load_corpus(f, vocab=Vocab.build("abc", "char"))


# ----------------------------------------------------------------------------- PTB


def _write_ptb(d: Path) -> None:
    # the real files' layout: leading and trailing spaces; char files end with a lone " "
    word = {
        "train": " the cat sat <unk> \n a cat 's N \n",
        "valid": " the cat \n",
        "test": " dog <unk> \n",
    }
    for s, t in word.items():
        (d / f"ptb.{s}.txt").write_text(t)
        lines = [" " + " ".join("_".join(ln.split())) + " " for ln in t.split("\n")[:-1]]
        (d / f"ptb.char.{s}.txt").write_text("\n".join(lines) + "\n ")


def test_ptb_char_parsing(tmp_path: Path):
    _write_ptb(tmp_path)
    assert (tmp_path / "ptb.char.valid.txt").read_text() == " t h e _ c a t \n "
    c = load_corpus(tmp_path, "ptb-char")
    assert c.name == "ptb-char"
    assert c.vocab.decode(c.train) == "the cat sat <unk>\na cat 's N\n"
    assert c.vocab.decode(c.valid) == "the cat\n"
    assert c.vocab.decode(c.test) == "dog <unk>\n"
    syms = list("\n '<>Nacdeghknostu")
    assert c.vocab.symbols == syms  # all splits ("d", "g", "o" only in test)
    assert c.valid.tolist() == [syms.index(ch) for ch in "the cat\n"]
    # any one of the files names the directory too
    c2 = load_corpus(tmp_path / "ptb.char.test.txt", "ptb-char")
    assert torch.equal(c2.train, c.train)


def test_ptb_char_rejects_word_file(tmp_path: Path):
    _write_ptb(tmp_path)
    (tmp_path / "ptb.char.valid.txt").write_text(" the cat \n")
    with pytest.raises(GenseqError, match="not PTB-char"):
        load_corpus(tmp_path, "ptb-char")


def test_ptb_word_parsing(tmp_path: Path):
    _write_ptb(tmp_path)
    c = load_corpus(tmp_path, "ptb-word")
    v = c.vocab
    assert v.symbols == ["'s", "<eos>", "<unk>", "N", "a", "cat", "sat", "the"]  # train only
    assert v.unk == "<unk>"
    assert c.train.tolist() == [7, 5, 6, 2, 1, 4, 5, 0, 3, 1]
    assert c.valid.tolist() == [7, 5, 1]
    assert c.test.tolist() == [2, 2, 1]  # "dog" is not in train -> <unk>
    assert v.decode(c.train) == "the cat sat <unk>\na cat 's N\n"


def test_ptb_missing_split_file(tmp_path: Path):
    _write_ptb(tmp_path)
    (tmp_path / "ptb.test.txt").unlink()
    with pytest.raises(GenseqError, match="ptb.test.txt"):
        load_corpus(tmp_path, "ptb-word")


def test_ptb_real_files(data_root: Path):
    w = load_corpus(data_root / "text" / "ptb", "ptb-word")
    assert [len(w.split(s)) for s in ("train", "valid", "test")] == [929_589, 73_760, 82_430]
    assert len(w.vocab) == 10_000 and "<eos>" in w.vocab and w.vocab.unk == "<unk>"
    c = load_corpus(data_root / "text" / "ptb_char", "ptb-char")
    # 48 printable symbols + space ('_' in the file) + end of line; Graves (2013) says 49
    assert len(c.vocab) == 50
    assert c.vocab.symbols[:2] == ["\n", " "] and "_" not in c.vocab
    assert [len(c.split(s)) for s in ("train", "valid", "test")] == [5_017_482, 393_042, 442_423]
    # the char files are the word files spelled out
    assert c.vocab.decode(c.valid) == w.vocab.decode(w.valid)
    assert c.vocab.decode(c.test[:60]).startswith("no it was n't black monday\n")


# ----------------------------------------------------------------------------- enwik8 / text8


def _zip(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    return path


def test_enwik8_zip_and_raw(tmp_path: Path):
    data = bytes((i * 7 + i // 13) % 216 + 40 for i in range(2000))  # not valid UTF-8
    z = _zip(tmp_path / "enwik8.zip", "enwik8", data)
    c = load_corpus(z, "enwik8")  # default 90/5/5 scales to 1800/100/100
    assert c.name == "enwik8" and c.vocab.level == "byte"
    assert [len(c.split(s)) for s in ("train", "valid", "test")] == [1800, 100, 100]
    assert len(c.vocab) == len(set(data))
    assert c.vocab.decode_bytes(c.train) == data[:1800]
    assert c.vocab.decode_bytes(c.valid) == data[1800:1900]
    assert c.vocab.decode_bytes(c.test) == data[1900:]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "enwik8").write_bytes(data)
    r = load_corpus(raw / "enwik8", "enwik8", split=(0.96, 0.04, 0.0))  # Graves' 96/4
    assert [len(r.split(s)) for s in ("train", "valid", "test")] == [1920, 80, 0]
    assert torch.equal(load_corpus(raw, "enwik8").train, c.train)  # a directory works too
    assert torch.equal(load_corpus(tmp_path, "enwik8").valid, c.valid)  # dir with the zip


def test_text8_zip(tmp_path: Path):
    words = ["anarchism", "originated", "as", "a", "term", "of", "abuse"]
    text = " ".join(words[i % 7] for i in range(400))[:2000]
    z = _zip(tmp_path / "text8.zip", "text8", text.encode())
    c = load_corpus(z, "text8")
    assert c.vocab.level == "char" and c.vocab.symbols == sorted(set(text))
    assert [len(c.split(s)) for s in ("train", "valid", "test")] == [1800, 100, 100]
    assert c.vocab.decode(c.train) + c.vocab.decode(c.valid) + c.vocab.decode(c.test) == text


def test_zip_without_member(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("a", b"abc")
        zf.writestr("b", b"abc")
    with pytest.raises(GenseqError, match="no member 'text8'"):
        load_corpus(tmp_path / "x.zip", "text8")


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_path(tmp_path: Path, fmt: str):
    with pytest.raises(GenseqError, match="no such file"):
        load_corpus(tmp_path / "nope", fmt)


def test_empty_and_bad_inputs(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(GenseqError, match="empty"):
        load_corpus(tmp_path / "empty.txt")
    _zip(tmp_path / "enwik8.zip", "enwik8", b"")
    with pytest.raises(GenseqError, match="empty"):
        load_corpus(tmp_path / "enwik8.zip", "enwik8")
    with pytest.raises(GenseqError, match="unknown corpus format"):
        load_corpus(tmp_path / "empty.txt", "wiki103")
    with pytest.raises(GenseqError, match="lacks"):
        load_corpus(tmp_path, "ptb-char")  # a directory without the expected files
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.txt").write_text("abc")
    (two / "b.txt").write_text("abc")
    with pytest.raises(GenseqError, match="exactly one"):
        load_corpus(two, "plain")  # neither train/valid/test.txt nor a single .txt
    (tmp_path / "tiny.txt").write_text("abc")
    with pytest.raises(GenseqError, match="too small"):
        load_corpus(tmp_path / "tiny.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe abc" * 10)
    with pytest.raises(GenseqError, match="not UTF-8"):
        load_corpus(tmp_path / "bin.txt")
    c = load_corpus(tmp_path / "bin.txt", "enwik8")  # any bytes are fine at byte level
    with pytest.raises(GenseqError, match="unknown split"):
        c.split("dev")


# ----------------------------------------------------------------------------- StreamBatches


@pytest.mark.parametrize("n,B,T", [(103, 4, 5), (100, 4, 8), (41, 1, 10), (50, 3, 100)])
def test_stream_batches_contiguous(n: int, B: int, T: int):
    data = torch.arange(n) * 3
    sb = StreamBatches(data, batch_size=B, seq_len=T)
    L = n // B
    assert len(sb) == -(-(L - 1) // T)
    xs, ys = zip(*(sb.batch(i) for i in range(len(sb))), strict=True)
    assert all(x.shape == y.shape and x.shape[0] == B for x, y in zip(xs, ys, strict=True))
    assert all(x.shape[1] == T for x in xs[:-1]) and 1 <= xs[-1].shape[1] <= T
    X, Y = torch.cat(xs, 1), torch.cat(ys, 1)
    for b in range(B):
        stream = data[b * L : (b + 1) * L]
        assert torch.equal(X[b], stream[:-1])  # all inputs, in order, nothing dropped
        assert torch.equal(Y[b], stream[1:])  # targets = next symbols
    for i in range(1, len(sb)):  # last target of segment i-1 is the first input of segment i
        assert torch.equal(ys[i - 1][:, -1], xs[i][:, 0])
    assert list(sb) and len(list(sb)) == len(sb)
    with pytest.raises(IndexError):
        sb.batch(len(sb))


def test_stream_batches_are_views_and_errors():
    data = torch.arange(1000)
    x, _ = StreamBatches(data, 10, 7).batch(3)
    assert x.untyped_storage().data_ptr() == data.untyped_storage().data_ptr()
    with pytest.raises(GenseqError):
        StreamBatches(torch.arange(5), 4, 10)
    with pytest.raises(GenseqError):
        StreamBatches(data, 0, 10)
