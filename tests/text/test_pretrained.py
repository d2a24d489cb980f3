"""Shipped text models (issue 16): a text run ships through scripts/ship_model.py with its
figures measured on the shipped weights; `genseq text sample` with no --model uses the
shipped `shakespeare`; `genseq models` and `make demo` show it; every shipped text model loads
by name, samples, and (with the data present) still scores what its JSON records."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from genseq import demo
from genseq.cli import main
from genseq.errors import GenseqError
from genseq.text.model import load_text_model
from genseq.train import pretrained

REPO = Path(__file__).resolve().parents[2]
TOY = "the cat sat on the mat. the dog ran to the cat.\n" * 60
TEXT_MODELS = [n for n, cfg in pretrained.shipped_models() if cfg.get("kind") == "text"]


def ship_script():
    spec = importlib.util.spec_from_file_location("ship_model", REPO / "scripts" / "ship_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> tuple[Path, Path]:
    """(a tiny char run, the data root its corpus lies under)."""
    root = tmp_path_factory.mktemp("data")
    (root / "text").mkdir()
    corpus = root / "text" / "toy.txt"
    corpus.write_text(TOY, encoding="utf-8")
    run = tmp_path_factory.mktemp("run")
    argv = ["text", "train", "--data", str(corpus), "--out", str(run), "--hidden", "16",
            "--steps", "4", "--eval-every", "2", "--batch-size", "4", "--seq-len", "20",
            "--no-progress", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    return run, root


@pytest.fixture
def shipped_here(tmp_path, monkeypatch) -> Path:
    """An empty genseq/pretrained for the test to ship into."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", folder)
    return folder


def test_a_text_run_ships_with_its_figures_and_becomes_the_default(
    toy_run, shipped_here, tmp_path, monkeypatch, capsys
):
    run, root = toy_run
    monkeypatch.setenv("GENSEQ_DATA", str(root))
    notes = tmp_path / "record.json"
    notes.write_text(json.dumps({"command": "genseq text train ...", "hardware": "a test"}))
    ship = ship_script()
    corpus = root / "text" / "toy.txt"
    argv = [str(run), "shakespeare", "--data", str(corpus), "--record", str(notes),
            "--dynamic", "--threads", "1"]  # fmt: skip
    assert ship.main(argv) == 0
    meta = json.loads((shipped_here / "shakespeare.json").read_text())
    rec = meta["record"]
    assert rec["command"] == "genseq text train ..." and rec["hardware"] == "a test"
    assert {"updates", "train_hours", "commit"} <= rec.keys()
    assert rec["eval_data"] == {"under": "$GENSEQ_DATA", "path": "text/toy.txt", "format": "plain"}
    n = len(TOY)
    n_valid, n_test = round(0.05 * n), n - round(0.9 * n) - round(0.05 * n)
    # 16 parallel streams, each predicting all its symbols but its first
    assert rec["valid"]["symbols"] == (n_valid // 16 - 1) * 16 and rec["valid"]["bpc"] > 0
    assert rec["test"]["symbols"] == (n_test // 16 - 1) * 16
    assert rec["test_dynamic"]["dynamic_lr"] in (0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
    assert rec["test_dynamic"]["symbols"] == n_test - 1  # one stream: the paper's order
    subset = rec[f"valid_first{ship.TEXT_SUBSET}"]
    assert subset == ship.text_figures("shakespeare", corpus, "plain", "valid", ship.TEXT_SUBSET)
    m = load_text_model("shakespeare")  # by name, fp16 storage loaded as fp32
    assert m.net.config_dict() == meta["model"] and m.vocab.to_json() == meta["vocab"]
    capsys.readouterr()
    assert main(["text", "sample", "--length", "40", "--seed", "2"]) == 0
    assert len(capsys.readouterr().out) == 40 + 1
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "shakespeare: text 1 x 16" in listed and "char symbols" in listed
    assert f"valid.bpc {rec['valid']['bpc']:,.4g}" in listed
    sampled = demo.text_sample()
    assert sampled is not None and len(sampled) == demo.TEXT_LENGTH  # "ROMEO" is not in the vocab


def test_a_text_corpus_outside_genseq_data_is_refused_before_anything_ships(
    toy_run, shipped_here, tmp_path, monkeypatch
):
    run, root = toy_run
    monkeypatch.setenv("GENSEQ_DATA", str(tmp_path))
    notes = tmp_path / "record.json"
    notes.write_text("{}")
    argv = [str(run), "toy", "--data", str(root / "text" / "toy.txt"), "--record", str(notes)]
    with pytest.raises(GenseqError, match="GENSEQ_DATA"):
        ship_script().main(argv)
    assert list(shipped_here.iterdir()) == []


def test_sample_with_no_model_names_the_missing_default(shipped_here, capsys):
    assert main(["text", "sample", "--length", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:") and "'shakespeare'" in err
    assert demo.text_sample() is None  # make demo then writes handwriting only


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_each_shipped_text_model_loads_by_name_and_samples(name, capsys):
    meta = dict(pretrained.shipped_models())[name]
    m = load_text_model(name)
    assert m.net.config_dict() == meta["model"]
    assert {"updates", "train_hours", "valid", "test", "eval_data"} <= meta["record"].keys()
    capsys.readouterr()
    assert main(["text", "sample", "--model", name, "--length", "60", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) >= 60


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_each_shipped_text_model_scores_what_its_json_records(name, data_root):
    """A stale JSON (weights changed, figure not) fails here."""
    ship = ship_script()
    rec = dict(pretrained.shipped_models())[name]["record"]
    where = rec["eval_data"]
    got = ship.text_figures(
        name, data_root / where["path"], where["format"], "valid", ship.TEXT_SUBSET
    )
    want = rec[f"valid_first{ship.TEXT_SUBSET}"]
    assert got["symbols"] == want["symbols"]
    assert got["nats"] == pytest.approx(want["nats"], rel=1e-4)
