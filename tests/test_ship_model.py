"""scripts/ship_model.py: a run started with --init-from records the whole history's totals."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from genseq.errors import GenseqError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ship_model.py"


@pytest.fixture(scope="module")
def ship():
    spec = importlib.util.spec_from_file_location("ship_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_run(d: Path, step: int, times: list[float], **cfg) -> Path:
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"kind": "synth", "step": step, **cfg}))
    rows = [{"step": 10 * (i + 1), "time": t} for i, t in enumerate(times)]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_training_hours_sums_resumed_segments(ship, tmp_path):
    run = write_run(tmp_path / "r", 40, [600.0, 1800.0, 300.0, 3600.0])  # 1800 s + 3600 s
    hours, step = ship.training_hours(run / "metrics.jsonl")
    assert hours == pytest.approx(1.5) and step == 40


def test_a_run_without_init_from_has_no_base(ship):
    assert ship.base_record({"kind": "synth", "step": 5}) is None


def test_base_of_a_run_directory_counts_its_metrics(ship, tmp_path):
    base = write_run(tmp_path / "base", 300, [3600.0, 7200.0])
    got = ship.base_record({"init_from": str(base)})
    assert got == {"from": str(base), "updates": 300, "train_hours": 2.0}


def test_base_of_a_shipped_model_is_its_recorded_totals(ship):
    rec = json.loads((SCRIPT.parents[1] / "genseq/pretrained/synth.json").read_text())["record"]
    got = ship.base_record({"init_from": "synth"})
    assert got["updates"] == rec["updates"] and got["train_hours"] == rec["train_hours"]


def test_a_missing_base_is_one_clear_error(ship):
    with pytest.raises(GenseqError, match="no model 'gone'"):
        ship.base_record({"init_from": "gone"})
