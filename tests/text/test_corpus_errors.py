"""Every error of genseq.text.corpus, triggered through `genseq text ...` or the Python API
(Vocab, load_corpus, Corpus, StreamBatches), each message checked."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.text.corpus import StreamBatches, Vocab, load_corpus
from tests.conftest import text_train


def cli_error(capsys, argv: list[str]) -> str:
    """`genseq ARGV` exits 2, its stderr ending in one error line (after any progress lines,
    no traceback); that line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith("genseq: error:") and "Traceback" not in err, err
    return err.splitlines()[-1]


def api_error(call, *args, **kwargs) -> str:
    with pytest.raises(GenseqError) as e:
        call(*args, **kwargs)
    return str(e.value)


def tampered_run(run: Path, tmp_path: Path, vocab: object) -> Path:
    """A copy of the run directory `run` whose config.json holds `vocab`."""
    d = tmp_path / "tampered"
    shutil.copytree(run, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["vocab"] = vocab
    (d / "config.json").write_text(json.dumps(cfg))
    return d


# ---- Vocab ------------------------------------------------------------------------------------
def test_a_vocab_of_an_unknown_level_is_refused():
    err = api_error(Vocab, ["a"], "syllable")
    assert "unknown vocab level 'syllable'; expected one of" in err
    err = api_error(Vocab.build, "abc", "syllable")
    assert "unknown vocab level 'syllable'; expected one of" in err


def test_a_vocab_with_a_repeated_symbol_is_refused():
    assert "vocab has duplicate symbols" in api_error(Vocab, ["a", "b", "a"], "char")


def test_char_and_byte_vocabs_hold_single_characters():
    assert "char vocab symbols must be single characters" in api_error(Vocab, ["ab"], "char")
    assert "byte vocab symbols must be single characters" in api_error(Vocab, [""], "byte")
    err = api_error(Vocab, ["a", "€"], "byte")
    assert "byte vocab symbols must be chr(0)..chr(255)" in err


def test_a_char_vocab_reads_str_only():
    assert "char vocab is built from a str" in api_error(Vocab.build, b"abc", "char")
    v = Vocab.build("abc", "char")
    assert "char vocab encodes a str" in api_error(v.encode, b"abc")


def test_no_vocab_from_empty_text():
    for level in ("char", "byte", "word"):
        assert "cannot build a vocab from empty text" in api_error(Vocab.build, "", level)


def test_a_word_vocab_without_unk_names_the_unknown_words():
    v = Vocab.build(["x", "y"], "word")
    assert "unknown words for this vocab: 'zebra'" in api_error(v.encode, "x zebra")


def test_a_malformed_vocab_beside_a_model_is_one_line(tiny_text_run, tmp_path, capsys):
    """config.json's vocab lacking its level, or of symbols a char vocab cannot hold."""
    _, run = tiny_text_run
    symbols = json.loads((run / "config.json").read_text())["vocab"]["symbols"]
    d = tampered_run(run, tmp_path, {"symbols": symbols})
    err = cli_error(capsys, ["text", "sample", "--model", str(d), "--length", "5"])
    assert "malformed vocab (expects level, symbols, unk)" in err
    shutil.rmtree(d)
    d = tampered_run(run, tmp_path, {"symbols": [s * 2 for s in symbols], "level": "char"})
    err = cli_error(capsys, ["text", "sample", "--model", str(d), "--length", "5"])
    assert "char vocab symbols must be single characters" in err


# ---- load_corpus ------------------------------------------------------------------------------
def test_a_corpus_that_is_not_utf8_is_one_line(tmp_path, capsys):
    p = tmp_path / "latin1.txt"
    p.write_bytes("café au lait ".encode("latin-1") * 20)
    err = cli_error(capsys, text_train(p, tmp_path / "run", "--steps 1"))
    assert f"{p} is not UTF-8 text (byte 3)" in err


def test_a_split_is_three_fractions_summing_to_one(tmp_path):
    p = tmp_path / "toy.txt"
    p.write_text("abcdefghij" * 10)
    for split in [(0.5, 0.5), (0.9, 0.2, -0.1), (0.5, 0.3, 0.3)]:
        err = api_error(load_corpus, p, "plain", split=split)
        assert "split must be 3 non-negative fractions summing to 1, got" in err


def test_a_corpus_too_small_to_split_is_one_line(tmp_path, capsys):
    p = tmp_path / "tiny.txt"
    p.write_text("abcdefghij")  # 10 symbols: 5% of them rounds to none
    err = cli_error(capsys, text_train(p, tmp_path / "run", "--steps 1"))
    assert "corpus of 10 symbols is too small: its valid split is empty" in err


def test_ptb_char_tokens_are_single_characters(tmp_path, capsys):
    for s in ("train", "valid", "test"):
        (tmp_path / f"ptb.char.{s}.txt").write_text("a b _ c\n")
    (tmp_path / "ptb.char.valid.txt").write_text("a b\na bc _ d\n")
    err = cli_error(capsys, text_train(tmp_path, tmp_path / "run", "--format ptb-char --steps 1"))
    assert f"{tmp_path / 'ptb.char.valid.txt'}:2: not PTB-char (tokens longer than one" in err


def test_a_hutter_directory_without_its_file_is_one_line(tmp_path, capsys):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "other.txt").write_text("abc")
    err = cli_error(capsys, text_train(d, tmp_path / "run", "--format enwik8 --steps 1"))
    assert f"enwik8: {d} holds neither enwik8.zip nor enwik8" in err


def test_a_hutter_archive_without_its_member_is_one_line(tmp_path, capsys):
    z = tmp_path / "text8.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.txt", "abc " * 100)
        zf.writestr("b.txt", "abc " * 100)
    err = cli_error(capsys, text_train(z, tmp_path / "run", "--format text8 --steps 1"))
    assert f"text8: {z} has no member 'text8' (has ['a.txt', 'b.txt'])" in err


# ---- Corpus, StreamBatches --------------------------------------------------------------------
def test_a_corpus_has_three_splits_by_name(tmp_path):
    p = tmp_path / "toy.txt"
    p.write_text("abcdefghij" * 10)
    corpus = load_corpus(p)
    assert torch.equal(corpus.split("valid"), corpus.valid)
    err = api_error(corpus.split, "dev")
    assert "unknown split 'dev'; expected one of ('train', 'valid', 'test')" in err


def test_stream_batches_read_a_1d_tensor():
    err = api_error(StreamBatches, torch.zeros(4, 10, dtype=torch.long), 2, 5)
    assert "StreamBatches needs a 1-D id tensor, got shape (4, 10)" in err
