"""The models shipped in genseq/pretrained (issue 10): each loads by name, has the config its
JSON claims, works, and (with the data present) still scores what its JSON records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genseq.cli import main
from genseq.hand.sample import load_hand_model
from tests.conftest import shared_data, skip_without_data

PRETRAINED = Path(__file__).resolve().parents[2] / "genseq" / "pretrained"


def shipped(name: str) -> dict:
    path = PRETRAINED / f"{name}.json"
    if not path.is_file():
        pytest.fail(f"{path} is not shipped")
    return json.loads(path.read_text())


def test_synth_loads_by_name_with_the_config_its_json_claims():
    meta = shipped("synth")
    m = load_hand_model("synth")
    assert m.kind == "synth" and m.alphabet is not None
    assert m.net.config_dict() == meta["model"]
    cfg = meta["model"]
    assert (cfg["num_layers"], cfg["hidden_size"], cfg["n_window"], cfg["n_mixtures"]) == (
        3,
        400,
        10,
        20,
    )
    assert len(m.alphabet.symbols) == 82  # the full alphabet: digits and punctuation too
    record = meta["record"]
    assert {"updates", "train_hours", "valid", "valid_first100", "segments"} <= record.keys()


def test_predict_loads_by_name_with_the_config_its_json_claims():
    meta = shipped("predict")
    m = load_hand_model("predict")
    assert m.kind == "predict" and m.alphabet is None  # §4: strokes only, no text
    assert m.net.config_dict() == meta["model"]
    cfg = meta["model"]
    assert (cfg["num_layers"], cfg["hidden_size"], cfg["n_mixtures"]) == (3, 400, 20)
    assert {"updates", "train_hours", "valid_first100", "segments"} <= meta["record"].keys()


def test_write_needs_no_model_flag(tmp_path):
    out = tmp_path / "hello.svg"
    assert main(["write", "hello world", "--seed", "1", "-o", str(out)]) == 0
    assert out.read_text().count("<path") >= 2


def test_shipped_weights_fit_the_size_budget():
    total = sum(p.stat().st_size for p in PRETRAINED.glob("*.safetensors"))
    assert total <= 40e6


@pytest.fixture(scope="module")
def default_cache(tmp_path_factory) -> Path:
    """`genseq hand prepare` as it is by default: the cache the recorded subsets were scored on."""
    root = shared_data()
    if root is None:
        skip_without_data("shared data absent: set GENSEQ_DATA or put ../shared/data beside it")
    cache = tmp_path_factory.mktemp("iam") / "iam.npz"
    assert main(["hand", "prepare", "--iam", str(root / "iamondb"), "--out", str(cache)]) == 0
    return cache


@pytest.mark.parametrize("name", ["synth", "predict"])
def test_each_model_scores_what_its_json_records_on_the_first_100_valid_lines(name, default_cache):
    """A stale JSON (weights changed, figure not) fails here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ship_model", PRETRAINED.parents[1] / "scripts" / "ship_model.py"
    )
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    got = ship.valid_figures(Path(name), default_cache, ship.SUBSET)
    want = shipped(name)["record"]["valid_first100"]
    assert got["sequences"] == want["sequences"] and got["points"] == want["points"]
    assert got["nats"] == pytest.approx(want["nats"], rel=1e-4)
