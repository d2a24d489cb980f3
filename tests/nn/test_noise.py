"""Adaptive weight noise (Graves 2011): the complexity cost and its gradients, the pathwise
σ-gradient, a tiny model training with it; weight noise drawn per group of sequences."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genseq.nn.noise import (
    AdaptiveWeightNoise,
    complexity_cost,
    complexity_grads,
    optimal_prior,
    weight_noise,
)
from genseq.text.corpus import Corpus, Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.task import TextTask
from genseq.train.noisy import noisy_backward
from genseq.train.trainer import TrainConfig, Trainer


def _posterior(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = [torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(5, generator=g).double()]
    ls = [(-2 + 0.5 * torch.randn_like(m)) for m in mu]
    return mu, ls


def test_complexity_cost_is_the_kl_to_the_best_gaussian_prior():
    mu, ls = _posterior()
    mu_p, var_p = optimal_prior(mu, [s.exp() for s in ls])
    cost = complexity_cost(mu, ls)

    def kl(m0, v0):  # Σ KL(N(μ_i, σ_i²) || N(m0, v0)), written out
        return sum(
            (0.5 * math.log(v0) - s + (s.exp() ** 2 + (m - m0) ** 2) / (2 * v0) - 0.5).sum()
            for m, s in zip(mu, ls, strict=True)
        )

    assert cost.item() == pytest.approx(kl(mu_p.item(), var_p.item()).item(), rel=1e-12)
    for dm, dv in [(0.05, 0.0), (-0.05, 0.0), (0.0, 0.1 * var_p.item()), (0.0, -0.1 * var_p)]:
        assert kl(mu_p.item() + dm, float(var_p + dv)) > cost  # the prior is the optimum
    n = sum(m.numel() for m in mu)  # closed form: L^C = Σ ln(σ_p / σ_i)
    closed = 0.5 * n * math.log(var_p.item()) - sum(s.sum().item() for s in ls)
    assert cost.item() == pytest.approx(closed, rel=1e-12)


def test_complexity_gradients_match_autograd_and_finite_differences():
    mu, ls = _posterior(1)
    mu = [m.requires_grad_() for m in mu]
    ls = [s.requires_grad_() for s in ls]
    cost = complexity_cost(mu, ls)
    cost.backward()
    d_mu, d_ls, value = complexity_grads(mu, ls)
    assert value == pytest.approx(cost.item(), rel=1e-12)
    for a, b in zip(d_mu + d_ls, [m.grad for m in mu] + [s.grad for s in ls], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    h = 1e-6  # central differences on a few coordinates
    with torch.no_grad():
        for t, g in [(mu[0], d_mu[0]), (ls[1], d_ls[1])]:
            for idx in [(0,) * t.dim(), (t.shape[0] - 1,) + (0,) * (t.dim() - 1)]:
                t[idx] += h
                up = complexity_cost(mu, ls).item()
                t[idx] -= 2 * h
                down = complexity_cost(mu, ls).item()
                t[idx] += h
                assert (up - down) / (2 * h) == pytest.approx(g[idx].item(), rel=1e-6, abs=1e-8)


def test_sampled_gives_the_pathwise_sigma_gradient():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(5, 3)
    awn = AdaptiveWeightNoise(lin, init_std=0.3)
    assert awn.names == ["weight"]
    mu = lin.weight.detach().clone()
    torch.manual_seed(7)
    with awn.sampled(lin):
        (lin(x) ** 2).sum().backward()
    torch.testing.assert_close(lin.weight, mu)  # μ restored exactly
    # reference: w = μ + σ ε through autograd, the same ε
    torch.manual_seed(7)
    eps = torch.randn_like(mu)
    m = mu.clone().requires_grad_()
    s = awn.log_sigma[0].detach().clone().requires_grad_()
    w = m + s.exp() * eps
    ((x @ w.T + lin.bias.detach()) ** 2).sum().backward()
    torch.testing.assert_close(lin.weight.grad, m.grad)
    torch.testing.assert_close(awn.log_sigma[0].grad, s.grad)


def _corpus(repeats: int = 100) -> Corpus:
    vocab = Vocab(list("abcd"), "char")
    ids = torch.tensor([0, 1, 2, 3, 2, 1] * repeats)
    return Corpus(vocab, ids, ids[:60], ids[:60], "plain")


def test_a_tiny_model_trains_with_adaptive_noise_and_resumes(tmp_path):
    torch.manual_seed(0)
    model = TextModel(TextModelConfig(vocab_size=4, hidden_size=16))
    cfg = TrainConfig(lr=3e-2, steps=60, adaptive_noise=0.075, eval_every=1000, log_every=10)
    # 24k symbols: L^C (~1,000 nats for 1,344 weights) weighs ~0.04 nats per symbol
    task = TextTask(_corpus(4000), batch_size=4, seq_len=12)
    trainer = Trainer(model, task, cfg, tmp_path, progress=False)
    trainer.fit()
    logs = [r for r in trainer.history if "train_loss" in r]
    assert logs[-1]["train_loss"] < 0.5 * logs[0]["train_loss"]  # ln 4 = 1.39 at the start
    assert logs[-1]["sigma_mean"] != pytest.approx(0.075, rel=1e-3)  # σ is learned
    assert logs[-1]["complexity_nats"] > 0
    sigma = [s.detach().clone() for s in trainer.awn.log_sigma]
    again = Trainer(
        TextModel(TextModelConfig(vocab_size=4, hidden_size=16)),
        task,
        TrainConfig(lr=3e-2, steps=61, eval_every=1000, log_every=10),
        tmp_path,
        progress=False,
    )
    again.resume()
    assert again.cfg.adaptive_noise == 0.075 and again.awn is not None
    for a, b in zip(again.awn.log_sigma, sigma, strict=True):
        torch.testing.assert_close(a.detach(), b)
    config = json.loads((tmp_path / "config.json").read_text())
    assert not any(k.startswith("noise") for k in config)  # the model is μ alone


def _grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("std", [0.0, 0.1])
def test_noise_per_sequence_is_batches_of_one_each_with_its_own_draw(std):
    corpus = _corpus()
    torch.manual_seed(0)
    model = TextModel(TextModelConfig(vocab_size=4, hidden_size=8))
    task = TextTask(corpus, batch_size=4, seq_len=10)
    torch.manual_seed(1)
    _, units, carry = noisy_backward(task, model, model, (0, 0), None, std, groups=4)
    batch = _grads(model)
    assert units == 40 and carry["h"].shape == (1, 4, 8)
    torch.manual_seed(1)
    model.zero_grad()
    ones = []
    streams = task.batches.streams
    for j in range(4):  # a batch of one, its own draw, the batch's normalisation
        model.zero_grad()
        one = TextTask(corpus, batch_size=4, seq_len=10)
        one.batches.streams, one.batches.batch_size = streams[j : j + 1], 1
        with weight_noise(model, std):
            loss, _, c = one.loss(model, 0, 0, None)
            loss.backward()
        ones.append(_grads(model) / 4)
        torch.testing.assert_close(carry["h"][:, j], c["h"][:, 0])
    torch.testing.assert_close(batch, torch.stack(ones).sum(0), rtol=1e-5, atol=1e-7)
    model.zero_grad()
    torch.manual_seed(1)
    noisy_backward(task, model, model, (0, 0), None, std, groups=1)
    same = torch.allclose(_grads(model), batch, rtol=1e-5, atol=1e-7)
    assert same == (std == 0)  # one shared draw is a different gradient


def test_hand_chunks_carry_through_noise_groups():
    from genseq.hand.model import PredictionConfig, PredictionNet
    from genseq.hand.task import HandTask
    from tests.train.test_clip import Lines, _lines

    torch.manual_seed(0)
    model = PredictionNet(PredictionConfig(hidden_size=8, num_layers=2, n_mixtures=2))
    out = {}
    for groups in (1, 3):
        task = HandTask(Lines(_lines()), chunk_len=8, chunks_per_batch=3)
        carry, grads, values = None, [], []
        for i in range(3):
            model.zero_grad()
            v, _, carry = noisy_backward(task, model, model, (0, i), carry, 0.0, groups)
            carry = {k: c.detach() for k, c in carry.items()}  # as the trainer does (TBPTT)
            grads.append(_grads(model))
            values.append(v)
        out[groups] = (torch.stack(grads), values, carry, task.display(float(np.mean(values))))
    torch.testing.assert_close(out[1][0], out[3][0], rtol=1e-5, atol=1e-7)
    assert out[1][1] == pytest.approx(out[3][1], rel=1e-6)
    torch.testing.assert_close(out[1][2]["h"], out[3][2]["h"])
    assert out[1][3] == pytest.approx(out[3][3])  # nats per line: the window counted once
