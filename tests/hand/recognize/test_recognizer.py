"""The handwriting recognizer: features, decoding, training through the one Trainer, the
shipped format, reading files, and legibility (genseq.hand.recognize)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.recognize.legibility import Tries, legibility, write_legible
from genseq.hand.recognize.model import HEIGHT_SCALE, Recognizer, RecognizerConfig, features
from genseq.hand.recognize.read import file_lines, load_recognizer, split_lines
from genseq.hand.sample import load_hand_model


def test_features_add_the_pen_height_and_stack_k_points_per_frame():
    x = torch.tensor([[[0.0, 1, 0], [0, 1, 0], [1, -2, 1], [9, 9, 9]]])  # the last is padding
    f, n = features(x, torch.tensor([3]), downsample=2)
    h = 1 / HEIGHT_SCALE  # heights 1, 2, 0 around their mean 1: 0, 1, -1
    expect = [[0, 1, 0, 0, 0, 1, 0, h], [1, -2, 1, -h, 0, 0, 0, 0]]
    assert n.tolist() == [2]
    assert torch.allclose(f[0], torch.tensor(expect))
    f0, _ = features(x, torch.tensor([3]), downsample=2, height=False)
    assert (f0[0, :, 3::4] == 0).all()


def _lines(k: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for n in rng.integers(20, 60, k):
        s = rng.normal(size=(n, 3)).astype(np.float32)
        s[:, 2] = rng.random(n) < 0.1
        out.append(s)
    return out


@pytest.mark.parametrize("decoder", ["ctc", "attention"])
def test_a_line_reads_the_same_alone_and_padded_in_a_batch(decoder):
    from genseq.hand.recognize.model import pad_lines

    torch.manual_seed(0)
    m = Recognizer(
        RecognizerConfig(
            alphabet_size=5, enc_hidden=8, dec_hidden=8, embed=4, attention=8, downsample=3
        )
    ).eval()
    lines = _lines(4)
    x, n = pad_lines(lines)
    together = m.decode(x, n, decoder)
    alone = [m.decode(*pad_lines([s]), decoder)[0] for s in lines]
    assert together == alone
    assert m.decode(x, n, decoder, beam=2) is not None


@pytest.fixture(scope="session")
def tiny_recog(tiny_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recog")
    tiny = "--enc-hidden 8 --enc-layers 1 --dec-hidden 8 --batch-size 2 --eval-every 2"
    assert main(_train(tiny_cache, out, f"{tiny} --steps 3 --eval-batches 1")) == 0
    return out


def _train(cache: Path, out: Path, flags: str) -> list[str]:
    """argv of `genseq hand recognizer-train --data CACHE --out OUT FLAGS... --no-progress`."""
    return f"hand recognizer-train --data {cache} --out {out} {flags} --no-progress".split()


def test_training_writes_a_run_with_cer_and_resumes(tiny_recog, tiny_cache, capsys):
    cfg = json.loads((tiny_recog / "config.json").read_text())
    assert cfg["kind"] == "recog" and "alphabet" in cfg and "norm" in cfg
    rows = [json.loads(s) for s in (tiny_recog / "metrics.jsonl").read_text().splitlines()]
    assert any("valid_cer_ctc" in r and "valid_cer_attention" in r for r in rows)
    args = _train(tiny_cache, tiny_recog, "--steps 4 --resume")
    assert main(args) == 0
    assert "4 updates" in capsys.readouterr().out


def test_the_shipped_format_is_fp16_and_reads_like_the_run(tiny_recog, tmp_path, monkeypatch):
    from genseq.train import pretrained

    st, js = pretrained.export_model(tiny_recog, "recognizer", {"updates": 3}, tmp_path)
    from safetensors.torch import load_file

    assert all(v.dtype == torch.float16 for v in load_file(st).values())
    assert json.loads(js.read_text())["record"] == {"updates": 3}
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    shipped, run = load_recognizer("recognizer"), load_recognizer(tiny_recog)
    lines = _lines(3)
    assert shipped.read(lines) == run.read(lines)  # fp16 rounding does not change a reading


def test_a_page_is_cut_into_lines_where_the_pen_goes_back_left_and_down():
    # y down: "ab" + the dot of an i that goes back left, then the same a line lower
    word = [np.array([[0.0, 0], [25, 1]]), np.array([[26.0, 0], [50, 1]]), np.array([[30.0, -1]])]
    page = word + [s + [0, 10] for s in word] + [np.array([[40.0, 10], [45, 11]])]
    lines = split_lines(page)
    assert [len(ln) for ln in lines] == [3, 4]


def test_read_prints_each_line_and_compares_with_the_files_own_text(tiny_recog, tmp_path, capsys):
    f = tmp_path / "line.json"
    pts = [[x, 10 + 5 * np.sin(x / 3), 1 if x % 10 == 9 else 0] for x in range(60)]
    f.write_text(json.dumps({"text": "ab", "points": pts}))
    assert main(["hand", "read", str(f), "--recognizer", str(tiny_recog)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("genseq: the file says 'ab': CER ")


def test_read_of_a_genseq_svg_finds_its_lines(tiny_recog, tiny_synth, tmp_path):
    svg = tmp_path / "w.svg"
    assert (
        main(
            [
                "write",
                "ab ab ab",
                "--model",
                str(tiny_synth),
                "-o",
                str(svg),
                "--width",
                "3",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    rec = load_recognizer(tiny_recog)
    lines, _ = file_lines(svg, rec.stats)
    assert len(lines) == 3


def test_read_errors_are_one_line(tiny_recog, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["hand", "read", str(bad), "--recognizer", str(tiny_recog)]) == 2
    assert main(["hand", "read", str(tmp_path / "none.svg"), "--recognizer", str(tiny_recog)]) == 2
    assert main(["hand", "read", str(bad), "--recognizer", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("genseq: error: ") for e in err)


class ScriptedReader:
    """Reads the k-th batch of lines as the k-th list of texts (a stand-in recognizer)."""

    def __init__(self, stats, script: list[list[str]]):
        self.stats, self.script, self.calls = stats, script, 0

    def read(self, lines, *a, **k):
        out = self.script[self.calls][: len(lines)]
        self.calls += 1
        return out


def test_legible_keeps_each_lines_best_try_and_stops_once_all_read_exactly(tiny_synth):
    m = load_hand_model(tiny_synth)
    rec = ScriptedReader(m.stats, [["xb", "zz"], ["zz", "ba"], ["never"], ["q"]])
    t = write_legible(m, rec, ["ab", "ba"], 4, seed=0)
    assert t.reads == ["xb", "ba"] and t.best == [1, 0]
    assert t.tries == [4, 2]  # line 0 is never read exactly; line 1 is at its second try
    assert rec.calls == 4  # tries 3 and 4 write line 0 alone
    assert len(t.synthesis().strokes) == 2


def test_tries_keep_the_first_of_equally_good_readings():
    t = Tries(["abc"])
    syn = type(
        "S",
        (),
        {
            "strokes": [torch.zeros(1, 3)],
            "phi": [torch.zeros(1, 2)],
            "stopped": [True],
            "text": [torch.ones(3, dtype=torch.long)],
        },
    )
    t.offer(syn, ["abd"], [0])
    t.offer(syn, ["abx"], [0])
    assert t.reads == ["abd"] and t.tries == [2]


def test_legibility_reports_cer_and_wer_per_bias(tiny_synth):
    m = load_hand_model(tiny_synth)
    perfect = ScriptedReader(m.stats, [["ab a", "b"]] * 4)
    rows = legibility(m, perfect, ["ab a", "b"], biases=(0.0, 1.0), seeds=2)
    assert [r["bias"] for r in rows] == [0.0, 1.0]
    assert all(r["cer"] == 0 and r["wer"] == 0 and r["lines"] == 4 for r in rows)


def test_legibility_and_write_legible_commands(
    tiny_recog, tiny_synth, tiny_cache, tmp_path, capsys
):
    phrases = tmp_path / "p.txt"
    phrases.write_text("ab\n\nba a\n")
    args = [
        "hand",
        "legibility",
        "--model",
        str(tiny_synth),
        "--recognizer",
        str(tiny_recog),
        "--phrases",
        str(phrases),
        "--bias",
        "0",
        "1",
        "--seeds",
        "1",
        "--data",
        str(tiny_cache),
        "--json",
    ]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["lines"] for r in d["legibility"]] == [2, 2] and 0 <= d["floor"]["cer"]
    out = tmp_path / "w.svg"
    args = [
        "write",
        "ab ba",
        "--model",
        str(tiny_synth),
        "-o",
        str(out),
        "--legible",
        "2",
        "--recognizer",
        str(tiny_recog),
    ]
    assert main(args) == 0 and out.read_text().startswith("<")
    assert main(args + ["--legible", "0"]) == 2


def test_the_shipped_recognizer_reads_the_built_in_styles():
    """genseq/pretrained/recognizer against the five built-in style lines (the synthesis
    network's writing, texts known): 14.5 % CER when shipped; fails if the shipped weights or
    the reading path break."""
    from genseq.hand.recognize.metrics import cer
    from genseq.hand.recognize.read import read_file
    from genseq.hand.styles import builtin_style_files

    rec = load_recognizer("recognizer")
    refs, hyps = [], []
    for f in builtin_style_files():
        texts, own = read_file(f, rec)
        refs.append(own)
        hyps.append(" ".join(texts))
    assert len(refs) == 5 and cer(refs, hyps) < 0.25


def test_models_are_found_by_shipped_name_or_run_directory(tiny_synth):
    from genseq.errors import GenseqError
    from genseq.hand.recognize.read import load_writer

    assert load_writer(tiny_synth).kind == "synth"
    assert load_writer("synth").alphabet is not None
    with pytest.raises(GenseqError, match="not a (synthesis|handwriting) model"):
        load_writer("recognizer")
    with pytest.raises(GenseqError, match="no model"):
        load_writer("no-such-model")


def test_read_names_the_file_and_line_it_cannot_scale(tiny_recog, tmp_path, capsys):
    """A line the style code refuses (no height, coordinates out of range): the message is
    that refusal, prefixed with the file's path and the line's number on the page
    (genseq/hand/recognize/read.py)."""
    ok = [[0, 0], [0, 9], [20, 5]]
    cases = {
        "flat.json": ([[[0, 5], [10, 5], [20, 5]]], 1, "the style's points have no height"),
        "far.json": ([[[0, 0], [0, 9], [3e9, 5]]], 1, "the style has coordinates beyond ±1e+09"),
        "second.json": ([ok, [[0, 30], [10, 30], [20, 30]]], 2, "the style's points have no"),
    }
    for name, (strokes, line, why) in cases.items():
        f = tmp_path / name
        f.write_text(json.dumps({"text": "ab", "strokes": strokes}))
        want = f"{f}: handwriting line {line}: {why}"
        capsys.readouterr()
        assert main(["hand", "read", str(f), "--recognizer", str(tiny_recog)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"genseq: error: {want}"), err
        with pytest.raises(GenseqError, match=f"^{re.escape(want)}"):
            file_lines(f, load_recognizer(tiny_recog).stats)


def test_recognizer_task_without_validation_data():
    from genseq.hand.alphabet import Alphabet
    from genseq.hand.recognize.task import RecogTask

    task = RecogTask([], None, Alphabet.from_texts(["ab"]))
    with pytest.raises(GenseqError, match="^no validation data$"):
        task.evaluate(torch.nn.Linear(1, 1))


# ---- CTC prefix beam search with a character language model ---------------------------------


def _small_ctc(alphabet_size: int = 5) -> Recognizer:
    torch.manual_seed(0)
    cfg = RecognizerConfig(
        alphabet_size=alphabet_size, enc_hidden=8, dec_hidden=8, embed=4, attention=8
    )
    return Recognizer(cfg).eval()


def test_ctc_with_a_beam_is_the_prefix_beam_search_of_the_ctc_heads_log_probs():
    from genseq.hand.recognize.model import pad_lines
    from genseq.nn.ctc_beam import CTCBeam, ctc_beam
    from genseq.nn.seq2seq import ctc_greedy

    m = _small_ctc()
    x, n = pad_lines(_lines(4, seed=3))
    with torch.no_grad():
        f, k = m.frames(x, n)
        lp = m.net.ctc_log_probs(m.net.encode(f, k))
    assert m.decode(x, n, "ctc") == ctc_greedy(lp, k)  # beam 1: best path, as before
    assert m.decode(x, n, "ctc", beam=3) == ctc_beam(lp, k, CTCBeam(beam=3))

    def only_ones(prefix: tuple[int, ...]) -> list[float]:  # the end or code 1, nothing else
        return [np.log(0.5), np.log(0.5)] + [-np.inf] * 5

    for codes in m.decode(x, n, "ctc", beam=3, lm=only_ones, lm_weight=1.0, bonus=5.0):
        assert set(codes) <= {1}


@pytest.fixture(scope="module")
def tiny_lm(tiny_recog, tiny_cache, tmp_path_factory) -> Path:
    """A character LM of the tiny cache's training lines, in the tiny recognizer's alphabet."""
    from genseq.hand.data import HandCache
    from genseq.hand.recognize.charlm import CharLM

    cache = HandCache.load(tiny_cache)
    texts = [cache.texts[i] for i in cache.select("train") if cache.texts[i]]
    lm = CharLM.build(texts, load_recognizer(tiny_recog).alphabet, order=3)
    lm.meta["decoding"] = {"lm_weight": 0.7, "bonus": 0.4}
    return lm.save(tmp_path_factory.mktemp("lm") / "lm")[0]


def test_read_with_a_beam_uses_the_language_model_at_its_tuned_settings(tiny_recog, tiny_lm):
    rec = load_recognizer(tiny_recog)
    assert rec.lm is None  # a run directory has no language model of its own
    rec = load_recognizer(tiny_recog, lm=tiny_lm)
    assert isinstance(rec.lm, str | Path)  # loaded at its first use only
    lines = _lines(3)
    assert rec.read(lines) == load_recognizer(tiny_recog).read(lines)  # best path: no LM
    lm, weight, bonus = rec.lm_settings()
    assert (lm.order, weight, bonus) == (3, 0.7, 0.4) and rec.lm is lm
    assert rec.lm_settings(lm_weight=0.0) == (None, 0.0, 0.0)
    assert rec.lm_settings(1.5, 0.0)[1:] == (1.5, 0.0)
    from genseq.hand.recognize.model import pad_lines

    want = rec.model.decode(*pad_lines(lines), "ctc", 4, lm, 0.7, 0.4)
    assert rec.read(lines, "ctc", beam=4) == [rec.alphabet.decode(c) for c in want]


def test_the_shipped_recognizer_comes_with_its_language_model():
    """genseq/pretrained/recognizer-lm: order 6, counted from the training transcriptions only
    (their characters + line ends: the unigram counts), tuned settings recorded."""
    rec = load_recognizer("recognizer")
    lm = rec.language_model()
    assert lm is not None and lm.order == 6 and lm.alphabet == rec.alphabet
    train = lm.meta["record"]["train"]
    assert sum(lm.raw[0].values()) == train["characters"] + train["lines"]
    assert (train["lines"], train["characters"]) == (10_740, 312_650)
    assert {"lm_weight", "bonus"} <= lm.decoding.keys()
    assert load_recognizer("recognizer", lm=None).lm is None


def test_language_model_errors_are_one_line(tiny_recog, tiny_lm, tmp_path, capsys):
    from genseq.hand.recognize.charlm import CharLM

    with pytest.raises(GenseqError, match=r"^a language model weight needs a language model \("):
        load_recognizer(tiny_recog).read(_lines(1), "ctc", beam=2, lm_weight=1.0)
    other = CharLM.build(["xyz"], Alphabet.from_texts(["xyz"]), order=2)
    other.save(tmp_path / "other")
    rec = load_recognizer(tiny_recog, lm=tmp_path / "other")
    want = f"the language model {tmp_path / 'other'} has another alphabet than the recognizer"
    with pytest.raises(GenseqError, match=f"^{re.escape(want)}$"):
        rec.read(_lines(1), "ctc", beam=2)
    assert rec.read(_lines(1), "ctc", beam=2, lm_weight=0.0)  # no LM asked for: none loaded


def test_read_and_floor_take_the_beam_and_the_language_model(tiny_recog, tiny_lm, tiny_cache):
    from genseq.hand.recognize.legibility import floor

    f = tiny_lm.parent / "line.json"
    pts = [[x, 10 + 5 * np.sin(x / 3), 1 if x % 10 == 9 else 0] for x in range(60)]
    f.write_text(json.dumps({"text": "ab", "points": pts}))
    base = ["hand", "read", str(f), "--recognizer", str(tiny_recog), "--beam", "4"]
    lm = ["--lm", str(tiny_lm), "--lm-weight", "0.5", "--lm-bonus", "1"]
    assert main(base + lm) == 0
    assert main(base + ["--lm", "none"]) == 0
    assert main(base + ["--lm", "none", "--lm-weight", "1"]) == 2
    rec = load_recognizer(tiny_recog, lm=tiny_lm)
    r = floor(rec, str(tiny_cache), "ctc", beam=4, first=1)  # the tiny testset_v: 2 lines
    assert r["lines"] == 1 and 0 <= r["cer"]
    assert floor(rec, str(tiny_cache), "ctc", beam=4, lm_weight=0.0)["lines"] == 2
