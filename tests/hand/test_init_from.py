"""`genseq hand train --init-from NAME|DIR`: a new run (fresh optimizer, step 0) from another
model's weights, keeping that model's normalisation and alphabet."""

from __future__ import annotations

import json
import shutil

import torch

from genseq.cli import main
from genseq.hand.strokes import NormStats
from genseq.train.checkpoint import load_model, load_tensors

from .conftest import train_tiny

OTHER_NORM = NormStats((1.0, -2.0), (20.0, 25.0))


def _error(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:"), err
    return err


def test_init_from_starts_a_fresh_run_from_the_weights(tiny_cache, tiny_synth, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(tiny_synth, src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["norm"] = OTHER_NORM.to_json()  # not the cache's: the new run must keep the source's
    (src / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "new"
    argv = ["--init-from", str(src), "--lr", "1e-12", "--steps", "2"]
    assert train_tiny(tiny_cache, out, "synth", *argv) == 0
    new = json.loads((out / "config.json").read_text())
    assert new["init_from"] == str(src)
    assert new["norm"] == OTHER_NORM.to_json() and new["alphabet"] == cfg["alphabet"]
    tensors, meta = load_tensors(out / "checkpoint.safetensors")
    assert meta["step"] == 2 and int(tensors["optim.0.step"]) == 2  # step 0, a new Adam
    a, b = load_model(out)[0].state_dict(), load_model(src)[0].state_dict()
    for k in a:  # lr 1e-12: still the source's weights
        torch.testing.assert_close(a[k], b[k], atol=1e-8, rtol=0)
    resumed = train_tiny(tiny_cache, out, "synth", "--resume", "--steps", "3")
    assert resumed == 0  # a resumed run still says where it started from
    _, meta = load_tensors(out / "checkpoint.safetensors")
    assert meta["step"] == 3 and meta["config"]["init_from"] == str(src)


def test_init_from_errors(tiny_cache, tiny_synth, tmp_path, capsys):
    base = ["hand", "train", "--data", str(tiny_cache), "--steps", "1", "--no-progress"]
    base += ["--layers", "2", "--mixtures", "3", "--window", "2", "--init-from", str(tiny_synth)]
    err = _error(capsys, *base, "--task", "synth", "--out", str(tmp_path / "a"), "--hidden", "8")
    assert "hidden_size 16 there, 8 here" in err
    err = _error(capsys, *base, "--task", "predict", "--out", str(tmp_path / "b"))
    assert "holds a synth model, not predict" in err
    err = _error(capsys, *base, "--task", "synth", "--out", str(tmp_path / "d"), "--resume")
    assert "not both" in err
    err = _error(capsys, *base[:-1], "nonesuch", "--task", "synth", "--out", str(tmp_path / "c"))
    assert "'nonesuch'" in err
