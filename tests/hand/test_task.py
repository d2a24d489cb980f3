"""HandTask: loss / units / display against a hand computation, TBPTT chunks, evaluation, and a
few trainer steps end to end. Batches are made here (synthetic strokes), not by genseq.hand.data."""

from __future__ import annotations

import json

import pytest
import torch

from genseq.hand.model import (
    PredictionConfig,
    PredictionNet,
    SynthesisConfig,
    SynthesisNet,
    inputs_targets,
)
from genseq.hand.strokes import NormStats
from genseq.hand.task import HandTask
from genseq.nn.mdn import mdn_mean, mdn_nll, split_params
from genseq.train.checkpoint import load_model
from genseq.train.trainer import TrainConfig, Trainer

A = 6  # alphabet size, padding included


class FakeBatches:
    """The HandBatches contract: len(), batch(epoch, i) -> dict; lines of different lengths."""

    def __init__(self, n: int = 3, B: int = 3, T: int = 9, seed: int = 0, crop_len=None):
        self.n, self.B, self.T, self.seed, self.crop_len = n, B, T, seed, crop_len

    def __len__(self) -> int:
        return self.n

    def batch(self, epoch: int, i: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 1000 + epoch * 100 + i)
        B, T = self.B, self.T
        lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
        lengths[0] = T
        mask = torch.arange(T)[None] < lengths[:, None]
        strokes = torch.randn(B, T, 3, generator=g)
        strokes[..., 2] = (torch.rand(B, T, generator=g) < 0.2).float()
        strokes[~mask] = 0.0
        U = 5
        ulen = torch.randint(2, U + 1, (B,), generator=g)
        text_mask = torch.arange(U)[None] < ulen[:, None]
        text = torch.randint(1, A, (B, U), generator=g).masked_fill(~text_mask, 0)
        return {
            "strokes": strokes,
            "mask": mask,
            "text": text,
            "text_mask": text_mask,
            "ids": [f"l{epoch}-{i}-{b}" for b in range(B)],
        }


def make(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "synth":
        return SynthesisNet(
            SynthesisConfig(
                alphabet_size=A,
                hidden_size=6,
                num_layers=2,
                n_mixtures=2,
                n_window=2,
                kappa_bias=-1.0,
            )
        )
    return PredictionNet(PredictionConfig(hidden_size=6, num_layers=2, n_mixtures=2))


def scored(b: dict) -> torch.Tensor:
    """Real points except each line's first (its constant (0, 0) start is not scored)."""
    m = b["mask"].clone()
    m[:, 0] = False
    return m


def by_hand(model, b: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-point nll (B,T) and the mixture parameters of the whole lines."""
    inp, tgt = inputs_targets(b["strokes"])
    if model.kind == "synth":
        y, _ = model(inp, b["text"], b["text_mask"])
    else:
        y, _ = model(inp)
    p = split_params(y, 2)
    return mdn_nll(p, tgt, scored(b)), p


def test_first_point_of_a_line_is_not_scored():
    """Its target is the constant (0, 0) start: scoring it would reward σ → 0 there."""
    from genseq.hand.task import scored_mask

    b = FakeBatches().batch(0, 0)
    m = scored_mask(b)
    assert not m[:, 0].any() and torch.equal(m[:, 1:], b["mask"][:, 1:])
    b["starts"] = [0] + [5] * (len(b["ids"]) - 1)  # crops that start inside their line
    m = scored_mask(b)
    assert not m[0, 0] and torch.equal(m[1:, 0], b["mask"][1:, 0])


@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_loss_units_display(kind):
    model, data = make(kind), FakeBatches()
    task = HandTask(data, data)
    assert task.unit == "point" and task.primary == "nats" and task.num_batches() == 3
    run_loss = run_units = 0.0
    totals, lines = [], 0
    for i in range(2):
        loss, units, carry = task.loss(model, 0, i, None)
        assert carry is None
        b = data.batch(0, i)
        nll, _ = by_hand(model, b)
        total, points = nll.sum(), int(scored(b).sum())
        assert units == points and 0 < points < b["mask"].numel()  # padding is not counted
        # value: nats per point; gradient: mean over the batch of the per-sequence L(x)
        torch.testing.assert_close(loss.detach(), total.detach() / points)
        ps = list(model.parameters())
        g1 = torch.autograd.grad(loss, ps)
        g2 = torch.autograd.grad(total / 3, ps)
        for a, c in zip(g1, g2, strict=True):
            torch.testing.assert_close(a, c)
        run_loss += loss.item() * units  # what the trainer does
        run_units += units
        totals.append(total.item())
        lines += 3
    shown = task.display(run_loss / run_units)
    assert shown["nats"] == pytest.approx(sum(totals) / lines, rel=1e-5)  # nats per sequence
    assert task.display(run_loss / run_units) == shown  # the trainer asks twice per log line
    loss, _, _ = task.loss(model, 0, 2, None)  # a new window starts after a display
    assert task.display(loss.item())["nats"] == pytest.approx(
        by_hand(model, data.batch(0, 2))[0].sum().item() / 3, rel=1e-5
    )


@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_tbptt_chunks_carry_state(kind):
    model, data = make(kind), FakeBatches(T=9)
    task = HandTask(data, data, chunk_len=4, chunks_per_batch=3)
    assert task.num_batches() == 9
    total, units, carry = 0.0, 0.0, {"junk": torch.zeros(1)}  # chunk 0 ignores a stale carry
    for i in range(3, 6):  # the chunks of batch 1
        loss, n, carry = task.loss(model, 0, i, carry)
        assert carry is not None
        if kind == "synth":
            assert {"kappa", "w", "h1", "c1", "h", "c"} <= carry.keys()
        total += loss.item() * n
        units += n
        carry = {k: v.detach() for k, v in carry.items()}
    b = data.batch(0, 1)
    assert units == int(scored(b).sum())
    assert total == pytest.approx(by_hand(model, b)[0].sum().item(), rel=1e-5)  # = whole lines
    assert task.display(total / units)["nats"] == pytest.approx(total / 3, rel=1e-5)
    with pytest.raises(Exception, match="crop"):
        HandTask(data, data, chunk_len=4)  # no crops and no chunks_per_batch
    assert HandTask(FakeBatches(crop_len=10), None, chunk_len=4).num_batches() == 9


class VarBatches(FakeBatches):
    """Batches of different padded lengths, known before loading (`batch_lengths`), as
    HandBatches' are; the lengths change with the epoch."""

    def length(self, epoch: int, i: int) -> int:
        return 5 + 4 * ((i + epoch) % 3)  # 5, 9, 13

    def batch_lengths(self, epoch: int) -> list[int]:
        return [self.length(epoch, i) for i in range(self.n)]

    def batch(self, epoch: int, i: int) -> dict:
        self.T = self.length(epoch, i)
        return super().batch(epoch, i)


@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_tbptt_variable_chunks_per_batch(kind):
    """Whole lines cut into ceil(T_j / chunk_len) chunks for batch j: the chunks of a batch
    are consecutive steps, carry the state, and add up to the whole lines' loss."""
    model, data = make(kind), VarBatches(n=3)
    task = HandTask(data, data, chunk_len=4)
    assert data.batch_lengths(0) == [5, 9, 13]
    assert task.epoch_steps(0) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)] + [
        (2, k) for k in range(4)
    ]
    assert task.num_batches() == 9
    step = 2  # batch 1 of epoch 0: 3 chunks
    total, units, carry = 0.0, 0.0, None
    for k in range(3):
        loss, n, carry = task.loss(model, 0, step + k, carry)
        total += loss.item() * n
        units += n
        carry = {k_: v.detach() for k_, v in carry.items()}
    b = data.batch(0, 1)
    assert units == int(scored(b).sum())
    assert total == pytest.approx(by_hand(model, b)[0].sum().item(), rel=1e-5)
    # epoch 1 has lengths 9, 13, 5 -> 3 + 4 + 2 = 9 steps; served as 9 steps
    assert [task._locate(1, i) for i in range(9)] == task.epoch_steps(1)
    short = VarBatches(n=2)  # epoch 0: 5, 9 -> 2 + 3 = 5 steps; epoch 1: 9, 13 -> 7 steps
    t2 = HandTask(short, short, chunk_len=4)
    assert t2.num_batches() == 5
    assert [t2._locate(1, i) for i in range(5)] == t2.epoch_steps(1)[:5]  # cut short
    t3 = HandTask(short, short, chunk_len=4)
    t3.epoch_steps(0)
    t3._steps = (0, [(0, 0), (0, 1)])  # an epoch shorter than the count starts over at chunk 0
    assert [t3._locate(0, i) for i in range(5)] == [(0, 0), (0, 1), (0, 0), (0, 1), (0, 0)]


def test_synth_trains_with_chunks_end_to_end(tmp_path):
    """Through the trainer: the carry crosses chunk boundaries, resets at each batch, and an
    interrupted run resumes exactly."""

    def run(out, hook=None, resume=False):
        model = make("synth")
        task = HandTask(VarBatches(n=3), VarBatches(n=1, seed=9), chunk_len=4)
        cfg = TrainConfig(steps=12, eval_every=5, log_every=2, checkpoint_every=1e9, lr=1e-2)
        tr = Trainer(model, task, cfg, out, progress=False)
        tr.on_step = hook
        tr.fit(resume=resume)
        return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]

    full = run(tmp_path / "a")

    def cut(step):
        if step == 7:  # inside batch 2's chunks: the carry must survive the checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", cut)
    again = run(tmp_path / "b", resume=True)
    assert [r["step"] for r in full] == [r["step"] for r in again]
    for ra, rb in zip(full, again, strict=True):
        for k in ra:
            if k.startswith(("train_", "valid_")):
                assert ra[k] == pytest.approx(rb[k], rel=1e-5), (ra["step"], k)


@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_evaluate(kind):
    model, data = make(kind), FakeBatches(n=2, seed=5)
    m = HandTask(data, data).evaluate(model)
    nll = sse = sse_xy = 0.0
    points = 0
    for i in range(2):
        b = data.batch(0, i)
        with torch.no_grad():
            n, p = by_hand(model, b)
        nll += n.sum().item()
        err = (mdn_mean(p) - b["strokes"]).square()[scored(b)]  # (points, 3)
        sse += err.sum().item()
        sse_xy += err[:, :2].sum().item()
        points += int(scored(b).sum())
    assert m["sequences"] == 6 and m["points"] == points
    assert m["nats"] == pytest.approx(nll / 6, rel=1e-5)  # Table 3: mean L(x) per sequence
    assert m["nats_point"] == pytest.approx(nll / points, rel=1e-5)
    assert m["sse"] == pytest.approx(sse / points, rel=1e-5)
    assert m["sse_xy"] == pytest.approx(sse_xy / points, rel=1e-5)
    assert m["sse"] > m["sse_xy"]  # the eos term is in
    m1 = HandTask(data, data, eval_batches=1).evaluate(model)
    assert m1["sequences"] == 3
    assert model.training


def test_trainer_end_to_end(tmp_path):
    model = make("synth")
    task = HandTask(FakeBatches(n=4), FakeBatches(n=1, seed=9), chunk_len=5, chunks_per_batch=2)
    cfg = TrainConfig(steps=6, eval_every=3, log_every=2, checkpoint_every=1e9, lr=1e-2)
    extra = {  # what a synthesis model's config.json must hold beside it
        "norm": NormStats((0.0, 0.0), (1.0, 1.0), 1).to_json(),
        "alphabet": json.dumps({"name": "test", "symbols": list("abcde"), "aliases": {}}),
    }
    Trainer(model, task, cfg, tmp_path, extra, progress=False).fit()
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in recs if "train_loss" in r]
    valid = [r for r in recs if "valid_nats" in r]
    assert len(train) == 3 and len(valid) == 2
    assert all("train_nats" in r and r["points_per_s"] > 0 for r in train)
    assert all({"valid_sse", "valid_sse_xy"} <= r.keys() for r in valid)
    loaded, cfg_json = load_model(tmp_path)
    assert cfg_json["kind"] == "synth" and isinstance(loaded, SynthesisNet)
