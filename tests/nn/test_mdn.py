"""Mixture density output (§4, eqs 15-26, 61-62)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genseq.nn.clip import clip_grad
from genseq.nn.mdn import (
    MDNParams,
    MixtureDensityHead,
    mdn_draw,
    mdn_mean,
    mdn_nll,
    mdn_sample,
    sequence_nll,
    split_params,
)


def _raw(eos, pi, mu, log_sigma, rho, dtype=torch.float64) -> torch.Tensor:
    """Assemble ŷ from raw values: pi (.., M), mu/log_sigma (.., M, 2), rho (.., M)."""
    pi, mu, ls, rho = (np.asarray(a, dtype=np.float64) for a in (pi, mu, log_sigma, rho))
    lead = pi.shape[:-1]
    flat = np.concatenate(
        [
            np.asarray(eos, dtype=np.float64)[..., None],
            pi,
            mu.reshape(*lead, -1),
            ls.reshape(*lead, -1),
            rho,
        ],
        axis=-1,
    )
    return torch.tensor(flat, dtype=dtype)


def _np_nll(y: np.ndarray, x: np.ndarray, M: int) -> float:
    """Eqs 18-26 written out directly in float64 numpy, as densities (no log-space tricks)."""
    e = 1.0 / (1.0 + np.exp(-y[0]))
    pi = np.exp(y[1 : 1 + M]) / np.exp(y[1 : 1 + M]).sum()
    mu = y[1 + M : 1 + 3 * M].reshape(M, 2)
    sig = np.exp(y[1 + 3 * M : 1 + 5 * M].reshape(M, 2))
    rho = np.tanh(y[1 + 5 * M :])
    p = 0.0
    for j in range(M):
        z = (
            (x[0] - mu[j, 0]) ** 2 / sig[j, 0] ** 2
            + (x[1] - mu[j, 1]) ** 2 / sig[j, 1] ** 2
            - 2 * rho[j] * (x[0] - mu[j, 0]) * (x[1] - mu[j, 1]) / (sig[j, 0] * sig[j, 1])
        )
        n = np.exp(-z / (2 * (1 - rho[j] ** 2))) / (
            2 * np.pi * sig[j, 0] * sig[j, 1] * np.sqrt(1 - rho[j] ** 2)
        )
        p += pi[j] * n
    p *= e if x[2] == 1 else 1 - e
    return -math.log(p)


def test_head_shape():
    head = MixtureDensityHead(400, 20)
    assert head(torch.randn(3, 5, 400)).shape == (3, 5, 121)


def test_nll_matches_hand_computation():
    M = 2
    y = _raw(
        eos=[0.3, -1.2, 2.0],
        pi=[[0.5, -0.2], [1.0, 1.0], [-2.0, 0.7]],
        mu=[[[0.1, -0.3], [1.0, 0.5]], [[0.0, 0.0], [-1.0, 2.0]], [[0.3, 0.3], [0.2, -0.2]]],
        log_sigma=[
            [[0.0, -0.5], [0.3, 0.2]],
            [[-1.0, -1.0], [0.5, 0.0]],
            [[0.1, 0.2], [-0.3, 0.4]],
        ],
        rho=[[0.4, -1.5], [0.0, 2.0], [-0.7, 0.9]],
    )
    x = torch.tensor([[0.2, -0.1, 1.0], [0.5, 1.5, 0.0], [-0.4, 0.6, 1.0]], dtype=torch.float64)
    got = mdn_nll(split_params(y, M), x)
    want = [_np_nll(y[i].numpy(), x[i].numpy(), M) for i in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)
    # float32 path agrees too
    got32 = mdn_nll(split_params(y.float(), M), x.float())
    np.testing.assert_allclose(got32.numpy(), want, rtol=1e-5, atol=1e-5)


def test_gradcheck_float64():
    M = 3
    y = torch.randn(4, 1 + 6 * M, dtype=torch.float64, requires_grad=True)
    xy = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    eos = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)

    def f(y, xy):
        return mdn_nll(split_params(y, M), torch.cat([xy, eos[:, None]], -1))

    assert torch.autograd.gradcheck(f, (y, xy), eps=1e-6, atol=1e-6)

    def fb(y):  # biased parameters are differentiable too
        return mdn_nll(split_params(y, M, bias=0.7), torch.cat([xy.detach(), eos[:, None]], -1))

    assert torch.autograd.gradcheck(fb, (y,), eps=1e-6, atol=1e-6)


def test_large_rho_is_exact_and_stable():
    """log(1-ρ²) from ρ̂ directly: float32 matches float64 at ρ̂ = 7, where float32 tanh(ρ̂)
    is 1 - 1.7e-6 (1 - ρ² from it would be off by ~4%)."""
    M = 1
    y = _raw([0.0], [[0.0]], [[[0.0, 0.0]]], [[[0.0, 0.0]]], [[7.0]])
    x = torch.tensor([[0.3, 0.3, 0.0]], dtype=torch.float64)
    ref = mdn_nll(split_params(y, M), x)
    assert abs(ref.item() - _np_nll(y[0].numpy(), x[0].numpy(), M)) < 1e-8
    got = mdn_nll(split_params(y.float(), M), x.float())
    assert abs(got.item() - ref.item()) < 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stability_extremes(dtype):
    M = 4
    B = 6
    y = torch.randn(B, 1 + 6 * M, dtype=dtype)
    y[:, 1 + 5 * M :] = torch.tensor([50.0, -50.0, 30.0, -9.0], dtype=dtype)  # |ρ̂| large
    y[:3, 1 + 3 * M : 1 + 5 * M] = -30.0  # tiny σ
    y[3:, 1 + 3 * M : 1 + 5 * M] = 30.0  # huge σ
    y[0, 0] = 80.0  # eos saturated
    y[1, 0] = -80.0
    y.requires_grad_(True)
    x = torch.tensor(
        [
            [1e6, -1e6, 0.0],
            [1e4, 2.0, 1.0],
            [0.0, 0.0, 0.0],
            [1e6, 1e6, 1.0],
            [-1e3, 5.0, 0.0],
            [0.1, 0.1, 1.0],
        ],
        dtype=dtype,
    )
    nll = mdn_nll(split_params(y, M), x)
    assert torch.isfinite(nll).all()
    nll.sum().backward()
    assert torch.isfinite(y.grad).all()
    # biased parameters too
    y2 = y.detach().clone().requires_grad_(True)
    nll2 = mdn_nll(split_params(y2, M, bias=10.0), x)
    nll2.sum().backward()
    assert torch.isfinite(nll2).all() and torch.isfinite(y2.grad).all()


def test_hand_built_params_with_rho_exactly_one_are_finite():
    p = MDNParams(
        eos_logit=torch.zeros(2),
        log_pi=torch.zeros(2, 1),
        mu=torch.zeros(2, 1, 2),
        log_sigma=torch.zeros(2, 1, 2),
        rho=torch.ones(2, 1),
    )
    nll = mdn_nll(p, torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, 1.0]]))
    assert torch.isfinite(nll).all()


def test_mask_zero_and_no_leak():
    M = 2
    y = torch.randn(2, 5, 1 + 6 * M, requires_grad=True)
    x = torch.randn(2, 5, 3)
    x[..., 2] = (x[..., 2] > 0).float()
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    x_bad = x.clone()
    x_bad[1, 3:] = float("nan")  # padding garbage must not leak
    nll = mdn_nll(split_params(y, M), x_bad, mask)
    assert torch.isfinite(nll).all()
    assert (nll[1, 3:] == 0).all()
    full = mdn_nll(split_params(y, M), x)
    torch.testing.assert_close(nll[mask], full[mask])
    seq = sequence_nll(split_params(y, M), x_bad, mask)
    torch.testing.assert_close(seq, (full * mask).sum(-1))
    seq.sum().backward()
    assert torch.isfinite(y.grad).all()
    assert (y.grad[1, 3:] == 0).all()
    assert (y.grad[1, :3] != 0).any()


def test_bias_lowers_sample_variance():
    M = 5
    g = torch.Generator().manual_seed(1)
    y = torch.randn(1, 1 + 6 * M, generator=g).expand(20000, -1)
    var = []
    for b in (0.0, 3.0):
        s = mdn_sample(split_params(y, M, bias=b), generator=torch.Generator().manual_seed(2))
        var.append(s[:, :2].var(0).sum().item())
    assert var[1] < 0.5 * var[0], var


def test_bias_formulas():
    M = 3
    y = torch.randn(2, 1 + 6 * M, dtype=torch.float64)
    b = 1.5
    p = split_params(y, M, bias=b)
    pi_hat = y[:, 1 : 1 + M]
    torch.testing.assert_close(p.log_pi.exp(), torch.softmax(pi_hat * (1 + b), -1))  # eq 62
    torch.testing.assert_close(
        p.log_sigma.exp(),
        torch.exp(y[:, 1 + 3 * M : 1 + 5 * M] - b).reshape(2, M, 2),  # eq 61
    )
    p0 = split_params(y, M)
    torch.testing.assert_close(p0.eos_prob, torch.sigmoid(y[:, 0]))
    torch.testing.assert_close(p0.rho, torch.tanh(y[:, 1 + 5 * M :]))
    torch.testing.assert_close(p0.mu, y[:, 1 + M : 1 + 3 * M].reshape(2, M, 2))


_PI = torch.tensor([0.2, 0.3, 0.5])
_MU = torch.tensor([[-100.0, 0.0], [0.0, 0.0], [100.0, 5.0]])
_LOG_SIGMA = torch.tensor([[0.0, 0.0], [0.0, 0.0], [math.log(2.0), 0.0]])
_RHO = torch.tensor([0.0, 0.0, 0.8])
_E = 0.25


def _check_moments(s: torch.Tensor) -> None:
    """Samples of the 3-component mixture above: component frequencies, eos rate, and the
    third component's means, standard deviations and correlation."""
    n = s.shape[0]
    assert s.shape == (n, 3)
    comp = torch.bucketize(s[:, 0].contiguous(), torch.tensor([-50.0, 50.0]))
    freq = torch.bincount(comp, minlength=3).float() / n
    torch.testing.assert_close(freq, _PI, atol=0.015, rtol=0)
    assert abs(s[:, 2].mean().item() - _E) < 0.015
    assert set(s[:, 2].unique().tolist()) <= {0.0, 1.0}
    c = s[comp == 2, :2]
    assert abs(c[:, 0].mean().item() - 100.0) < 0.1 and abs(c[:, 1].mean().item() - 5.0) < 0.05
    assert abs(c[:, 0].std().item() - 2.0) < 0.06 and abs(c[:, 1].std().item() - 1.0) < 0.03
    assert abs(torch.corrcoef(c.T)[0, 1].item() - 0.8) < 0.02


def test_sampling_frequencies_and_moments():
    n = 40000
    p = MDNParams(
        eos_logit=torch.full((n,), math.log(_E / (1 - _E))),
        log_pi=_PI.log().expand(n, 3),
        mu=_MU.expand(n, 3, 2),
        log_sigma=_LOG_SIGMA.expand(n, 3, 2),
        rho=_RHO.expand(n, 3),
    )
    _check_moments(mdn_sample(p, generator=torch.Generator().manual_seed(0)))


def test_fast_draw_samples_the_same_mixture():
    """mdn_draw on raw ŷ laid out as split_params reads it: same distribution as mdn_sample."""
    n, M = 40000, 3
    y = torch.cat(
        [
            torch.tensor([math.log(_E / (1 - _E))]),  # ê (eq 18, sigmoid convention)
            _PI.log() + 0.7,  # π̂: softmax is shift-invariant
            _MU.reshape(-1),  # μ interleaved (μ1, μ2) per component
            _LOG_SIGMA.reshape(-1),
            torch.atanh(_RHO),
        ]
    ).expand(n, -1)
    assert y.shape[1] == 1 + 6 * M
    _check_moments(mdn_draw(y, M, generator=torch.Generator().manual_seed(0)))
    # biased (eqs 61-62): same moments as the reference sampler's
    y = torch.randn(1, 1 + 6 * 4, generator=torch.Generator().manual_seed(3)).expand(n, -1)
    for b in (0.0, 2.0):
        fast = mdn_draw(y, 4, bias=b, generator=torch.Generator().manual_seed(1))
        ref = mdn_sample(split_params(y, 4, bias=b), generator=torch.Generator().manual_seed(2))
        for a, r in ((fast[:, :2].mean(0), ref[:, :2].mean(0)), (fast.std(0), ref.std(0))):
            torch.testing.assert_close(a, r, atol=0.05, rtol=0.05)
        assert abs(fast[:, 2].mean().item() - ref[:, 2].mean().item()) < 0.015


def test_sampling_is_reproducible_with_generator():
    M = 4
    y = torch.randn(7, 1 + 6 * M)
    a = mdn_sample(split_params(y, M), generator=torch.Generator().manual_seed(5))
    b = mdn_sample(split_params(y, M), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)


def test_mean():
    M = 3
    y = torch.randn(2, 4, 1 + 6 * M, dtype=torch.float64)
    p = split_params(y, M)
    m = mdn_mean(p)
    assert m.shape == (2, 4, 3)
    want = (torch.softmax(y[..., 1 : 1 + M], -1)[..., None] * p.mu).sum(-2)
    torch.testing.assert_close(m[..., :2], want)
    torch.testing.assert_close(m[..., 2], torch.sigmoid(y[..., 0]))


def test_clip_grad_clamps_output_derivatives():
    x = torch.randn(10, requires_grad=True)
    y = clip_grad(x, 100.0)
    torch.testing.assert_close(y, x)
    w = torch.linspace(-500, 500, 10)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, w.clamp(-100, 100))
    # through the loss: gradient on ŷ bounded by the clip value
    M = 2
    yh = torch.randn(3, 1 + 6 * M)
    yh[:, 1 + 3 * M : 1 + 5 * M] = -8.0  # tiny σ -> huge derivatives
    yh.requires_grad_(True)
    t = torch.tensor([[3.0, -2.0, 1.0], [1.0, 1.0, 0.0], [-4.0, 0.5, 1.0]])
    mdn_nll(split_params(clip_grad(yh, 100.0), M), t).sum().backward()
    assert yh.grad.abs().max().item() == pytest.approx(100.0)
    yh.grad = None
    mdn_nll(split_params(yh, M), t).sum().backward()
    assert yh.grad.abs().max().item() > 100.0
