"""Dynamic evaluation (§3): after predicting each segment, one SGD step on its summed loss
(the paper's per-sequence training update), with momentum; its rate chosen on validation."""

from __future__ import annotations

import math

import pytest
import torch

from genseq.errors import GenseqError
from genseq.text.corpus import Vocab
from genseq.text.dynamic import choose_rate
from genseq.text.evaluate import evaluate
from genseq.text.model import TextModel, TextModelConfig, nll

PHRASE = "the quick brown fox jumps over the lazy dog "


def _model(vocab_size: int, dtype: torch.dtype = torch.float32, **kw) -> TextModel:
    torch.manual_seed(0)
    cfg = TextModelConfig(vocab_size=vocab_size, hidden_size=24, num_layers=2, **kw)
    return TextModel(cfg).to(dtype)


def _ids(text: str) -> tuple[Vocab, torch.Tensor]:
    vocab = Vocab.build("abcdefghijklmnopqrstuvwxyz ", "char")
    return vocab, torch.tensor(vocab.encode(text))


def _reference(model: TextModel, data: torch.Tensor, B: int, T: int, lr: float, mom: float):
    """Dynamic evaluation written out: streams, carried state, w -= lr * buf with
    buf = mom * buf + ∂(Σ_segment −log Pr)/∂w."""
    from genseq.text.corpus import StreamBatches

    saved = {k: v.clone() for k, v in model.state_dict().items()}
    bufs = [torch.zeros_like(p) for p in model.parameters()]
    total, n, state = 0.0, 0, None
    for x, y in StreamBatches(data, B, T):
        logits, state = model(x, state)
        loss = nll(logits, y).sum()
        total, n = total + loss.item(), n + y.numel()
        grads = torch.autograd.grad(loss, list(model.parameters()))
        with torch.no_grad():
            for p, g, buf in zip(model.parameters(), grads, bufs, strict=True):
                buf.mul_(mom).add_(g)
                p.sub_(lr * buf)
        state = (state[0].detach(), state[1].detach())
    model.load_state_dict(saved)
    return total / n


@pytest.mark.parametrize(("batch", "momentum"), [(1, 0.0), (3, 0.99)])
def test_rate_zero_is_static_evaluation_exactly(batch, momentum):
    vocab, ids = _ids(PHRASE * 8)
    model = _model(len(vocab))
    static = evaluate(model, ids, "char", batch, 20)
    dyn = evaluate(model, ids, "char", batch, 20, True, 0.0, dynamic_momentum=momentum)
    assert dyn.nats == static.nats and dyn.error == static.error


@pytest.mark.parametrize(("batch", "momentum"), [(1, 0.0), (2, 0.0), (1, 0.99)])
def test_each_step_is_sgd_on_the_segments_summed_loss(batch, momentum):
    vocab, ids = _ids(PHRASE * 3)
    model = _model(len(vocab), torch.float64, lstm_grad_clip=0.5)
    lr = 3e-3
    got = evaluate(model, ids, "char", batch, 17, True, lr, dynamic_momentum=momentum).nats
    want = _reference(model, ids, batch, 17, lr, momentum)
    assert got == pytest.approx(want, rel=1e-10)
    static = evaluate(model, ids, "char", batch, 17).nats
    assert abs(got - static) > 1e-3  # the steps did change the later predictions


def test_dynamic_evaluation_lowers_loss_on_repetitive_text_and_restores_the_weights():
    """A model that never saw the repeated phrase adapts to it while evaluating."""
    vocab, ids = _ids(PHRASE * 40)
    model = _model(len(vocab))
    before = [p.detach().clone() for p in model.parameters()]
    static = evaluate(model, ids, "char", batch_size=1, seq_len=20)
    dynamic = evaluate(model, ids, "char", batch_size=1, seq_len=20, dynamic=True, dynamic_lr=0.1)
    assert dynamic.nats < 0.8 * static.nats
    assert dynamic.error < static.error
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q)


def test_the_rate_is_chosen_on_validation_as_the_grids_lowest_loss():
    vocab, ids = _ids(PHRASE * 12)
    model = _model(len(vocab))
    choice = choose_rate(model, ids, "char", rates=(0.1, 0.0, 1e-3), seq_len=20)
    assert set(choice.nats) == {0.0, 1e-3, 0.1}
    assert choice.rate == min(choice.nats, key=choice.nats.get) and choice.rate > 0
    static = evaluate(model, ids, "char", 1, 20).nats
    assert choice.nats[0.0] == static and choice.nats[choice.rate] < static
    assert choice.symbols == len(ids) - 1
    d = choice.as_dict()
    assert d["dynamic_lr"] == choice.rate and d["dynamic_lr_search"]["0.1"] == choice.nats[0.1]
    few = choose_rate(model, ids, "char", rates=(0.1,), symbols=101, seq_len=20)
    assert few.symbols == 100  # the first 101 symbols: 100 predictions
    assert choose_rate(model, ids, "char", rates=(0.0,), seq_len=20).rate == 0.0
    assert math.isfinite(choice.nats[choice.rate])


@pytest.mark.parametrize(("rates", "momentum"), [((), 0.0), ((-1e-4,), 0.0), ((1e-4,), 1.0)])
def test_bad_rates_are_user_errors(rates, momentum):
    vocab, ids = _ids(PHRASE * 2)
    with pytest.raises(GenseqError):
        choose_rate(_model(len(vocab)), ids, "char", rates=rates, momentum=momentum)
