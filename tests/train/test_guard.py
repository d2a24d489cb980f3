"""The numerical-fault guard (genseq.train.guard), tested by injecting NaN / inf into the loss
or the gradient of chosen calls of a real training run."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import torch

from genseq.errors import GenseqError
from genseq.text.task import TextTask
from genseq.train.checkpoint import load_tensors
from genseq.train.trainer import TrainConfig, Trainer
from tests.train.test_trainer import make_corpus, make_model


class _InfGrad(torch.autograd.Function):
    """Identity forward; an infinite derivative backward."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * math.inf


class Faulty(TextTask):
    """TextTask whose loss (or gradient) is poisoned on the given calls (1-based, counted over
    the whole run, so a replay after a rollback is clean)."""

    def __init__(self, *a, bad_loss=(), bad_grad=(), poison=math.nan, **kw):
        super().__init__(*a, **kw)
        self.bad_loss, self.bad_grad, self.poison, self.calls = (
            set(bad_loss),
            set(bad_grad),
            poison,
            0,
        )

    def loss(self, model, epoch, i, carry):
        loss, units, carry = super().loss(model, epoch, i, carry)
        self.calls += 1
        if self.calls in self.bad_loss:
            loss = loss * self.poison
        if self.calls in self.bad_grad:  # finite loss, poisoned gradient
            loss = _InfGrad.apply(loss)
        return loss, units, carry


def trainer(tmp_path, steps=12, hook=None, **kw) -> Trainer:
    corpus = make_corpus()
    cfg = TrainConfig(steps=steps, eval_every=1000, log_every=1, checkpoint_every=1e9, lr=3e-3)
    tr = Trainer(
        make_model(len(corpus.vocab)),
        Faulty(corpus, 4, 16, **kw),
        cfg,
        tmp_path,
        {"vocab": corpus.vocab.to_json()},
        progress=False,
    )
    tr.on_step = hook
    return tr


def weights(tr: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in tr.model.state_dict().items()}


def records(tr: Trainer) -> list[dict]:
    return [json.loads(s) for s in tr.metrics_path.read_text().splitlines()]


@pytest.mark.parametrize("poison", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_skips_the_update_and_is_logged(tmp_path, capsys, poison):
    seen: dict[int, dict] = {}
    tr = trainer(
        tmp_path, hook=lambda s: seen.setdefault(s, weights(tr)), bad_loss={5}, poison=poison
    )
    tr.fit()
    for k in seen[4]:  # step 5 changed nothing; step 6 did
        assert torch.equal(seen[4][k], seen[5][k]), k
    assert any(not torch.equal(seen[5][k], seen[6][k]) for k in seen[5])
    skipped = [r for r in records(tr) if "skipped" in r]
    assert [(r["step"], r["skipped"], r["loss"]) for r in skipped] == [(5, "loss", str(poison))]
    # the logged training loss stays finite: the poisoned step adds nothing to it
    assert all(math.isfinite(r["train_loss"]) for r in records(tr) if "train_loss" in r)
    assert not any(r.get("step") == 5 and "train_loss" in r for r in records(tr))
    assert "step 5: non-finite loss" in capsys.readouterr().err
    assert all(torch.isfinite(v).all() for v in tr.model.state_dict().values())


def test_an_infinite_gradient_with_a_finite_loss_is_skipped(tmp_path):
    seen: dict[int, dict] = {}
    tr = trainer(tmp_path, hook=lambda s: seen.setdefault(s, weights(tr)), bad_grad={3})
    tr.fit()
    for k in seen[2]:
        assert torch.equal(seen[2][k], seen[3][k]), k
    (rec,) = [r for r in records(tr) if "skipped" in r]
    assert rec["step"] == 3 and rec["skipped"] == "gradient" and math.isfinite(rec["loss"])
    assert all(torch.isfinite(v).all() for v in tr.model.state_dict().values())


def test_faults_in_a_row_roll_back_to_the_checkpoint_with_a_lower_lr(tmp_path, capsys):
    def hook(step):
        if step == 4 and not tr.guard.rollbacks:
            tr.save_checkpoint()  # the last good checkpoint: step 4

    tr = trainer(tmp_path, steps=12, hook=hook, bad_loss={7, 8, 9})
    tr.fit()
    rb = [r for r in records(tr) if "rollback_from" in r]
    assert rb == [{"step": 4, "rollback_from": 9, "lr": 1.5e-3}]
    assert "back to step 4 with lr 0.0015" in capsys.readouterr().err
    # the skipped steps' log lines were dropped with everything after the checkpoint
    assert not [r for r in records(tr) if "skipped" in r]
    assert tr.step == 12 and tr.cfg.lr == 1.5e-3
    assert [r["lr"] for r in records(tr) if r["step"] > 4 and "train_loss" in r] == [1.5e-3] * 8
    _, meta = load_tensors(tr.ckpt_path)
    assert meta["step"] == 12 and meta["train"]["lr"] == 1.5e-3
    assert all(torch.isfinite(v).all() for v in tr.model.state_dict().values())


def test_rollback_replays_from_the_checkpoint_exactly(tmp_path):
    """After the rollback, the run is the uninterrupted run from step 4 at the lower rate:
    the same as resuming that checkpoint with --lr set to the lowered rate."""

    def hook(step):
        if step == 4 and not tr.guard.rollbacks:
            tr.save_checkpoint()
            shutil.copytree(tmp_path / "a", tmp_path / "b")

    tr = trainer(tmp_path / "a", steps=10, hook=hook, bad_loss={6, 7, 8})
    tr.fit()
    ref = trainer(tmp_path / "b", steps=10)
    ref.fit(resume=True, lr=1.5e-3)
    for k, v in ref.model.state_dict().items():
        torch.testing.assert_close(tr.model.state_dict()[k], v, rtol=0, atol=0)


def test_faults_before_any_checkpoint_lower_the_lr_in_place(tmp_path):
    tr = trainer(tmp_path, steps=8, bad_loss={2, 3, 4})
    tr.fit()
    assert [r for r in records(tr) if "rollback_from" in r] == [
        {"step": 4, "rollback_from": 4, "lr": 1.5e-3}
    ]
    assert tr.step == 8 and all(g["lr"] == 1.5e-3 for g in tr.opt.param_groups)


def test_a_persistent_fault_ends_the_run_with_one_clear_error(tmp_path):
    tr = trainer(tmp_path, steps=100, bad_loss=set(range(3, 200)))
    with pytest.raises(GenseqError) as e:
        tr.fit()
    assert re.match(r"training diverged at step \d+: 3 non-finite steps in a row", str(e.value))
    assert str(e.value).endswith(
        "after 5 rollbacks (lr 9.375e-05); start a new run with a lower --lr or a --clip"
    )
    assert tr.guard.rollbacks == tr.guard.max_rollbacks
    # the checkpoint written on the way out holds finite weights and loads
    tensors, meta = load_tensors(tr.ckpt_path)
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model."))


def test_a_fresh_run_removes_a_stale_checkpoint(tmp_path):
    trainer(tmp_path, steps=3).fit()
    assert tr_step(tmp_path) == 3
    tr = trainer(tmp_path, steps=8, bad_loss={2, 3, 4})  # must not roll back to the old run
    tr.fit()
    assert [r["rollback_from"] for r in records(tr) if "rollback_from" in r] == [4]
    assert [r["step"] for r in records(tr) if "rollback_from" in r] == [4]


def tr_step(path) -> int:
    return load_tensors(path / "checkpoint.safetensors")[1]["step"]
