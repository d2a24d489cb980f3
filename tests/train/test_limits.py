"""The trainer's decisions on a scripted task: plateau learning-rate decay, keeping the best
model, and the --steps / --epochs / --minutes limits (library and CLI)."""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from genseq.cli import main
from genseq.train.checkpoint import load_tensors
from genseq.train.trainer import TrainConfig, Trainer
from tests.conftest import text_train


class Tiny(nn.Module):
    kind = "text"

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))

    def config_dict(self) -> dict:
        return {}


class Scripted:
    """Batch i pulls w towards i; validation returns the scripted values in turn."""

    unit, primary = "item", "loss"

    def __init__(self, values=(), nb: int = 4):
        self.values, self.nb, self.evals = list(values), nb, 0

    def num_batches(self) -> int:
        return self.nb

    def loss(self, model, epoch, i, carry):
        return ((model.w - i) ** 2).sum(), 1.0, None

    def evaluate(self, model) -> dict[str, float]:
        self.evals += 1
        return {"loss": self.values[self.evals - 1] if self.values else 1.0}

    def display(self, nats: float) -> dict[str, float]:
        return {}


def fit(tmp_path, task, hook=None, **kw) -> tuple[Trainer, dict]:
    cfg = TrainConfig(optimizer="sgd", momentum=0.0, clip=0.0, lr=0.1, log_every=1, **kw)
    tr = Trainer(Tiny(), task, cfg, tmp_path, progress=False)
    tr.on_step = (lambda step: hook(tr, step)) if hook else None
    return tr, tr.fit()


def valid_records(tr: Trainer) -> list[dict]:
    return [r for r in tr.history if "valid_loss" in r]


def test_plateau_decay_halves_the_lr_after_patience_bad_evaluations(tmp_path):
    values = [1.0, 2.0, 2.0, 0.5, 3.0, 3.0, 3.0, 3.0]
    tr, _ = fit(
        tmp_path, Scripted(values), steps=8, eval_every=1, patience=2, lr_decay=0.5, min_lr=0.02
    )
    assert [r["lr"] for r in valid_records(tr)] == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02]
    # the decayed rate is the one the optimizer used: the last update moved w by 0.02 * grad
    assert tr.opt.param_groups[0]["lr"] == 0.02


def test_the_best_model_is_kept_not_the_last(tmp_path):
    values = [1.0, 2.0, 0.5, 3.0, 0.7]
    seen: dict[int, torch.Tensor] = {}
    tr, res = fit(
        tmp_path,
        Scripted(values),
        hook=lambda tr, s: seen.setdefault(s, tr.model.w.clone()),
        steps=5,
        eval_every=1,
    )
    best = load_tensors(tmp_path / "model.safetensors")[0]["w"]
    assert torch.equal(best, seen[3]) and not torch.equal(best, seen[5])
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["step"] == 3 and cfg["valid"]["loss"] == 0.5 and res["best"] == 0.5


def test_epochs_limit_stops_at_the_fraction_of_an_epoch(tmp_path):
    tr, res = fit(tmp_path, Scripted(nb=4), epochs=2.5, eval_every=100)
    assert res["step"] == 10  # ceil(2.5 x 4)
    assert [r["epoch"] for r in tr.history if "epoch" in r][-1] == 2.5


def test_the_first_limit_reached_wins(tmp_path):
    assert fit(tmp_path / "a", Scripted(nb=4), steps=3, epochs=10, eval_every=100)[1]["step"] == 3
    assert fit(tmp_path / "b", Scripted(nb=4), steps=30, epochs=1, eval_every=100)[1]["step"] == 4


def test_minutes_limit_stops_after_the_step_that_passes_it(tmp_path):
    _, res = fit(tmp_path, Scripted(nb=4), minutes=1e-9, steps=1000, eval_every=100)
    assert res["step"] == 1


def test_minutes_limit_with_a_clock(tmp_path, monkeypatch):
    """A clock that advances 1 s per reading: a 0.5-minute limit ends the run after ~30 s of
    readings, long before its 10,000 steps."""
    import genseq.train.trainer as trainer_mod

    now = [1000.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(trainer_mod, "time", SimpleNamespace(time=clock))  # the trainer's only
    _, res = fit(
        tmp_path, Scripted(nb=4), minutes=0.5, steps=10_000, eval_every=10_000, checkpoint_every=1e9
    )
    assert 3 <= res["step"] <= 30


# ---- the same limits through `genseq text train` ----------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    p = tmp_path_factory.mktemp("c") / "toy.txt"
    p.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 60, encoding="utf-8")
    return p


def _train(capsys, corpus, out, *extra) -> tuple[int, int]:
    """(updates per epoch as printed, steps taken)."""
    capsys.readouterr()
    flags = "--hidden 8 --batch-size 4 --seq-len 10 --eval-every 1000 --no-progress --threads 1"
    argv = [*text_train(corpus, out, flags), *extra]
    assert main(argv) == 0
    nb = int(re.search(r"([\d,]+) updates per epoch", capsys.readouterr().err)[1].replace(",", ""))
    return nb, load_tensors(out / "checkpoint.safetensors")[1]["step"]


def test_cli_epochs_and_minutes(corpus, tmp_path, capsys):
    nb, steps = _train(capsys, corpus, tmp_path / "e", "--epochs", "0.5")
    assert nb > 2 and steps == math.ceil(0.5 * nb)
    _, steps = _train(capsys, corpus, tmp_path / "m", "--minutes", "1e-9", "--steps", "500")
    assert steps == 1


def test_data_without_one_batch_is_one_clear_error(tmp_path):
    from genseq.errors import GenseqError

    with pytest.raises(GenseqError, match="the training data is too small for one batch"):
        fit(tmp_path, Scripted(nb=0), steps=3)
