"""The user errors of the command line, one case each: exit 2, one `genseq: error:` line that
says what is wrong. (`python -m tests.error_sites TRACE` lists every message and the tests
that raise it.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from genseq.cli import main
from genseq.text.corpus import Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.train.checkpoint import save_model


@pytest.fixture(scope="module")
def places(tmp_path_factory, tiny_cache, tiny_synth, tiny_predict) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("errors")
    vocab = Vocab.build("the cat sat", "char")
    save_model(tmp / "text", TextModel(TextModelConfig(len(vocab), hidden_size=3)),
               {"vocab": vocab.to_json()})  # fmt: skip
    (tmp / "empty").mkdir()
    (tmp / "bad-tar").mkdir()
    (tmp / "bad-tar" / "lineStrokes-all.tar.gz").write_bytes(b"not a tar at all" * 10)
    (tmp / "bad-tar" / "ascii").mkdir()
    (tmp / "no-splits" / "lineStrokes").mkdir(parents=True)
    (tmp / "no-splits" / "ascii").mkdir()
    (tmp / "empty.txt").write_text("")
    (tmp / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 50)
    (tmp / "tiny.txt").write_text("ab")
    (tmp / "toy.txt").write_text("the cat sat on the mat. " * 40)
    return {"tmp": str(tmp), "cache": str(tiny_cache), "synth": str(tiny_synth),
            "predict": str(tiny_predict), "text": str(tmp / "text")}  # fmt: skip


TRAIN = "--steps 1 --no-progress --hidden 4 --layers 1"
CASES = [
    # hand prepare
    ("hand prepare --iam {tmp}/missing --out {tmp}/c.npz", "IAM-OnDB folder not found"),
    ("hand prepare --iam {tmp}/empty --out {tmp}/c.npz", "has neither lineStrokes-all.tar.gz"),
    ("hand prepare --iam {tmp}/bad-tar --out {tmp}/c.npz", "is not a readable tar archive"),
    ("hand prepare --iam {tmp}/no-splits --out {tmp}/c.npz", "split list not found"),
    ("hand prepare --iam {tmp}/empty --out {tmp}/c.txt", "--out must end in .npz"),
    ("hand prepare --iam {tmp}/empty --out {tmp}/no/c.npz", "output folder not found"),
    ("hand prepare --iam {tmp}/empty --out {tmp}/c.npz --clean polish", "unknown cleaning step"),
    # hand show / train / eval
    ("hand show --data {tmp}/none.npz -o {tmp}/x.svg", "handwriting cache not found"),
    ("hand show --data {tmp}/toy.txt -o {tmp}/x.svg", "is not a genseq handwriting cache"),
    ("hand show --data {cache} --line zz-999 -o {tmp}/x.svg", "no line 'zz-999' in the cache"),
    ("hand train --task synth --data {tmp}/none.npz --out {tmp}/r " + TRAIN, "no such cache"),
    ("hand train --task synth --data {cache} --out {tmp}/r --layers 0 --steps 1",
     "--layers, --hidden, --mixtures and --window must be >= 1"),
    ("hand train --task synth --data {cache} --out {tmp}/r --crop-len 9 " + TRAIN,
     "--crop-len is for prediction only"),
    ("hand train --task predict --data {cache} --out {tmp}/r --lr 0 " + TRAIN, "--lr must be > 0"),
    ("hand train --task predict --data {cache} --out {tmp}/r --hidden 4", "give a limit"),
    ("hand train --task predict --data {cache} --out {tmp}/fresh --resume " + TRAIN,
     "nothing to resume"),
    ("hand train --task predict --data {cache} --out {tmp}/r --distributed " + TRAIN,
     "--distributed needs torchrun's environment"),
    ("hand eval --model {synth} --data {tmp}/none.npz", "no such cache"),
    ("hand eval --model {synth} --data {cache} --split nowhere", "unknown split 'nowhere'"),
    # hand sample
    ("hand sample --model {predict} --steps 0 -o {tmp}/x.svg", "--steps must be >= 1"),
    ("hand sample --model {predict} --steps 200000 -o {tmp}/x.svg",
     "--steps must be between 1 and 100,000"),
    ("hand sample --model {predict} -o {tmp}/x.txt", "cannot draw to x.txt"),
    ("hand sample --model {predict} -o {tmp}/no/x.svg", "output folder not found"),
    ("hand sample --model {predict} -o {tmp}/x.svg --data {cache}",
     "--data and --line choose a line for --figure"),
    ("hand sample --model {predict} -o {tmp}/x.png --figure density --data {cache}",
     "a real line needs both --data CACHE and --line ID"),
    ("hand sample --model {predict} -o {tmp}/x.png --figure phi",
     "--figure phi needs a synthesis model"),
    ("hand sample --model {synth} -o {tmp}/x.png --figure density",
     "a synthesis model draws figures of a real line"),
    ("hand sample --model {synth} -o {tmp}/x.svg",
     "unconditional sampling needs a prediction model"),
    ("hand sample --model {text} -o {tmp}/x.svg", "holds a text model, not a handwriting model"),
    ("hand sample --model {tmp}/empty -o {tmp}/x.svg", "is not a genseq model directory"),
    # hand styles / write
    ("hand styles --make {synth} --n 0 --out {tmp}/st", "--n must be >= 1"),
    ("hand styles --make {predict} --out {tmp}/st", "making styles needs a synthesis model"),
    ("write hi --model {synth} -o {tmp}/x.svg --width 0", "--width must be >= 1"),
    ("write hi --model {synth} -o {tmp}/x.svg --figure phi", "--figure KIND and --figure-out FILE"),
    ("write hi --model {synth} -o {tmp}/no/x.svg", "output folder not found"),
    ("write hi --model {synth} -o {tmp}/x.svg --figure phi --figure-out {tmp}/f.jpg",
     "--figure-out must be a .png/.svg/.pdf"),
    ("write hi --model {synth} -o {tmp}/x.svg --style-text abc", "--style-text goes with"),
    ("write hi --model {predict} -o {tmp}/x.svg --style 0", "writing text needs a synthesis model"),
    ("write hi --model {predict} -o {tmp}/x.svg", "writing text needs a synthesis model"),
    ("write hi --model {synth} -o {tmp}/x.svg --style 99", "no built-in style 99"),
    ("write hi --model {synth} -o {tmp}/x.svg --style-from {tmp}/none.json",
     "cannot read the style file"),
    ("write hi --model {synth} -o {tmp}/x.svg --style-from {tmp}/toy.txt",
     "is neither JSON nor SVG"),
    ("write 日本 --model {synth} -o {tmp}/x.svg",
     "the model's alphabet cannot write '日', '本'"),
    # text
    ("text train --data {tmp}/none.txt --out {tmp}/t " + TRAIN, "no such file or directory"),
    ("text train --data {tmp}/empty.txt --out {tmp}/t " + TRAIN, "empty corpus file"),
    ("text train --data {tmp}/latin1.txt --out {tmp}/t " + TRAIN, "is not UTF-8 text"),
    ("text train --data {tmp}/tiny.txt --out {tmp}/t " + TRAIN, "is too small"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --layers 0 --steps 1",
     "--layers, --hidden, --seq-len and --batch-size must be >= 1"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --batch-size 1000 " + TRAIN,
     "symbols are too few for 1000 streams"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --eval-every 0 " + TRAIN,
     "--eval-every must be >= 1, got 0"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --lr-decay 1.5 " + TRAIN,
     "--lr-decay must be > 0 and <= 1, got 1.5"),
    ("text eval --model {synth} --data {tmp}/toy.txt", "holds a synth model, not a text model"),
    ("text sample --model {text} --temperature 0", "--temperature must be > 0"),
    ("text sample --model {text} --length -1", "--length must be between 0 and 10,000,000"),
    ("text sample --model {text} --prime xyz", "not in this model's vocab"),
]  # fmt: skip


@pytest.mark.parametrize("argv, message", CASES, ids=[c[0].split(" {")[0] for c in CASES])
def test_cli_error(places, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("GENSEQ_DATA", raising=False)
    capsys.readouterr()
    words = [w.format(**places) for w in argv.split()]
    assert main(words) == 2
    err = capsys.readouterr().err
    errors = [s for s in err.splitlines() if s.startswith("genseq: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert message in errors[0], errors[0]


def test_prepare_without_a_folder(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("GENSEQ_DATA", raising=False)
    assert main(["hand", "prepare", "--out", str(tmp_path / "c.npz")]) == 2
    assert "no IAM-OnDB folder: give --iam DIR or set GENSEQ_DATA" in capsys.readouterr().err


def test_places_exist(places):
    assert Path(places["tmp"], "toy.txt").is_file()
