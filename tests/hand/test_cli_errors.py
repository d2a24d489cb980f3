"""The user errors of the command line, one case each: exit 2, one `genseq: error:` line that
says what is wrong. (`python -m tests.error_sites TRACE` lists every message and the tests
that raise it.)"""

from __future__ import annotations

import json
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
    for name, body in STYLE_FILES.items():
        (tmp / name).write_text(body)
    return {"tmp": str(tmp), "cache": str(tiny_cache), "synth": str(tiny_synth),
            "predict": str(tiny_predict), "text": str(tmp / "text")}  # fmt: skip


SVG = '<svg xmlns="http://www.w3.org/2000/svg"><title>hi</title>{}</svg>'
STYLE_FILES = {  # pen files a user hands to --style-from or `hand read`, each wrong one way
    "nopoints.json": '{"text": "hi", "points": []}',
    "pairs.json": '{"text": "hi", "points": [[1, 2], [3, 4]]}',
    "nokeys.json": '{"text": "hi"}',
    "list.json": "[1, 2]",
    "notext.json": '{"points": [[0, 0, 0], [5, 5, 1]]}',
    "nan.json": '{"text": "hi", "points": [[0, 0, 0], [NaN, 1, 1]]}',
    "far.json": '{"text": "hi", "points": [[0, 0, 0], [1e12, 1, 1]]}',
    "flat.json": '{"text": "hi", "points": [[0, 0, 0], [10, 0, 1]]}',
    "own.json": '{"text": "hi", "norm": {"mean": [0, 0]}}',
    "arc.svg": SVG.format('<path d="M 0 0 A 1 1 0 0 1 5 5"/>'),
    "html.svg": "<html><body/></html>",
    "nocommand.svg": SVG.format('<path d="5 5"/>'),
    "afterz.svg": SVG.format('<path d="M 0 0 L 5 5 Z 5"/>'),
    "short.svg": SVG.format('<path d="M 0 0 L 5"/>'),
    "deep.svg": SVG.format("<g>" * 1200 + '<path d="M 0 0 L 5 5"/>' + "</g>" * 1200),
    "badline.svg": SVG.format('<line x1="a" y1="0" x2="1" y2="1"/>'),
    "skew.svg": SVG.format('<g transform="warp(1)"><path d="M 0 0 L 5 5"/></g>'),
}
TRAIN = "--steps 1 --no-progress --hidden 4 --layers 1"
STYLE = "write hi --model {synth} -o {tmp}/x.svg --style-from {tmp}/"
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
     "--layers must be >= 1, got 0"),
    ("hand train --task synth --data {cache} --out {tmp}/r --window 0 --steps 1",
     "--window must be >= 1, got 0"),
    ("hand train --task predict --data {cache} --out {tmp}/r --chunk-len -1 " + TRAIN,
     "--chunk-len must be >= 0, got -1"),
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
    ("hand sample --model {predict} --steps 0 -o {tmp}/x.svg", "--steps must be >= 1, got 0"),
    ("hand sample --model {synth} -o {tmp}/x.png --figure density --data {cache} "
     "--line b02-010x-02", "line b02-010x-02 has no transcription for the synthesis net"),
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
    ("write hi --model {synth} -o {tmp}/x.svg --width 0", "--width must be >= 1, got 0"),
    ("write hi --model {synth} -o {tmp}/x.svg --legible 0", "--legible must be >= 1, got 0"),
    # style files
    (STYLE + "nopoints.json", "the style has no points"),
    (STYLE + "pairs.json", "points must be [x, y, eos] triples"),
    (STYLE + "nokeys.json", 'a style JSON needs "points"'),
    (STYLE + "list.json", "a pen JSON must be an object with text and points"),
    (STYLE + "notext.json", "the style has no text: say what it reads"),
    (STYLE + "nan.json", "the style has non-finite coordinates"),
    (STYLE + "far.json", "the style has coordinates beyond"),
    (STYLE + "flat.json", "the style's points have no height"),
    (STYLE + "own.json", "not a valid genseq style file"),
    (STYLE + "arc.svg", "SVG arcs (A) are not supported"),
    (STYLE + "html.svg", "not an SVG document (root element <html>)"),
    (STYLE + "nocommand.svg", "bad SVG path data: '5 5'"),
    (STYLE + "afterz.svg", "bad SVG path data after 'Z'"),
    (STYLE + "short.svg", "bad SVG path data near 'L'"),
    (STYLE + "deep.svg", "the SVG is nested too deeply to read"),
    (STYLE + "badline.svg", "bad SVG <line>: x1, y1, x2, y2 must be numbers"),
    (STYLE + "skew.svg", "unsupported SVG transform"),
    # hand recognizer-train / read / legibility
    ("hand recognizer-train --data {cache} --out {tmp}/rr --steps 1 --init-from {synth}",
     "--init-from is for text and hand train"),
    ("hand recognizer-train --data {cache} --out {tmp}/rr --steps 1 --enc-layers 0",
     "--enc-layers must be >= 1, got 0"),
    ("hand recognizer-train --data {cache} --out {tmp}/rr --steps 1 --ctc-weight 1",
     "--ctc-weight is in [0, 1)"),
    ("hand read {tmp}/arc.svg --beam 0", "--beam must be >= 1, got 0"),
    ("hand read {tmp}/nopoints.json --recognizer {synth}", "holds a synth model, not a recognizer"),
    ("hand read {tmp}/nopoints.json", "no pen strokes to read"),
    ("hand legibility --seeds 0", "--seeds must be >= 1, got 0"),
    ("hand legibility --model {predict}", "holds a predict model, not a synthesis model"),
    ("hand legibility --model {synth} --phrases {tmp}/none.txt", "cannot read the phrases file"),
    ("hand legibility --model {synth} --phrases {tmp}/empty.txt", "has no phrases"),
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
     "--layers must be >= 1, got 0"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --seq-len 0 --steps 1",
     "--seq-len must be >= 1, got 0"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --resume --init-from {text} " + TRAIN,
     "--init-from starts a new run and --resume continues one: not both"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --init-from {synth} " + TRAIN,
     "holds a synth model, not text"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --batch-size 1000 " + TRAIN,
     "symbols are too few for 1000 streams"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --eval-every 0 " + TRAIN,
     "--eval-every must be >= 1, got 0"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --lr-decay 1.5 " + TRAIN,
     "--lr-decay must be > 0 and <= 1, got 1.5"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --weight-noise 1e308 " + TRAIN,
     "--weight-noise must be >= 0 and <= 10, got 1e+308"),
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


def test_write_an_empty_text(places, capsys):
    argv = ["write", "", "--model", places["synth"], "-o", f"{places['tmp']}/x.svg"]
    assert main(argv) == 2
    assert "nothing to write: the text is empty" in capsys.readouterr().err


def test_write_a_built_in_style_when_none_is_installed(places, capsys, monkeypatch, tmp_path):
    from genseq.hand import styles

    monkeypatch.setattr(styles, "STYLES_DIR", tmp_path)
    argv = [
        "write",
        "hi",
        "--model",
        places["synth"],
        "-o",
        str(tmp_path / "x.svg"),
        "--style",
        "0",
    ]
    assert main(argv) == 2
    assert "no built-in styles are installed" in capsys.readouterr().err


def test_a_cache_of_another_version(places, capsys, tmp_path):
    """A cache written by another genseq: prepare it again."""
    from genseq.hand.data import HandCache

    cache = HandCache.load(places["cache"])
    cache.meta["version"] = 99
    cache.save(tmp_path / "old.npz")
    assert main(["hand", "show", "--data", str(tmp_path / "old.npz"), "-o", "x.svg"]) == 2
    err = capsys.readouterr().err
    assert "cache version 99, expected 1: run genseq hand prepare again" in err


def test_places_exist(places):
    assert Path(places["tmp"], "toy.txt").is_file()


# ---- training and model flags that need no handwriting model (fast) --------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("files")
    (tmp / "toy.txt").write_text("the cat sat on the mat. " * 40)
    (tmp / "nothing").mkdir()
    vocab = Vocab.build("the cat", "char")
    save_model(tmp / "extra", TextModel(TextModelConfig(len(vocab), 3)), {"vocab": vocab.to_json()})
    config = json.loads((tmp / "extra" / "config.json").read_text())
    config["model"]["colour"] = "red"  # a key no model config has
    (tmp / "extra" / "config.json").write_text(json.dumps(config))
    (tmp / "badjson").mkdir()
    (tmp / "badjson" / "config.json").write_text("{")
    return {"tmp": str(tmp)}


FAST = [
    ("text train --data {tmp}/toy.txt --out {tmp}/t --noise-groups 0 " + TRAIN,
     "--noise-groups must be >= 1, got 0"),
    ("text train --data {tmp}/toy.txt --out {tmp}/t --weight-noise 0.1 --adaptive-noise 0.1 "
     + TRAIN, "give --weight-noise or --adaptive-noise, not both"),
    ("text train --data {tmp}/nothing --out {tmp}/t " + TRAIN,
     "needs train.txt, valid.txt and test.txt, or exactly one .txt"),
    ("text sample --model {tmp}/toy.txt", "is a file: give a model directory or a shipped"),
    ("text sample --model {tmp}/badjson", "is not valid JSON"),
    ("text sample --model {tmp}/extra", "has unknown keys: 'colour'"),
]  # fmt: skip


@pytest.mark.parametrize("argv, message", FAST, ids=[c[0].split(" {")[0] for c in FAST])
def test_cli_error_without_a_handwriting_model(files, capsys, argv, message):
    capsys.readouterr()
    assert main([w.format(**files) for w in argv.split()]) == 2
    err = capsys.readouterr().err
    errors = [s for s in err.splitlines() if s.startswith("genseq: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert message in errors[0], errors[0]
