"""Mixture density output for pen offsets (Graves 2013, §4, eqs 15-26; biased sampling eqs 61-62).

Raw output layout of ŷ (last dim, 1 + 6M entries, M = 20 -> 121):
    [ ê (1) | π̂ (M) | μ̂ (M x 2, interleaved x,y) | σ̂ (M x 2, interleaved) | ρ̂ (M) ]

Targets are (..., 3) = (Δx, Δy, end-of-stroke in {0, 1}).
All densities are handled in log space (log-sum-exp over components), in nats.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genseq.nn.gemm import linear

LOG_2PI = math.log(2.0 * math.pi)
# Numerical guards (only active in pathological regions; see offset_log_prob).
ONE_M_RHO2_MIN = 1e-6  # floor on 1 - ρ²  (|ρ| <= 0.9999995)
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -60.0, 60.0  # exp(±60) is finite in float32
Z_MAX = 1e6  # |(x - μ)/σ| is clamped to this many standard deviations


class MixtureDensityHead(nn.Module):
    """eq 17: ŷ_t = b_y + W h_t, 1 + 6M raw outputs (the skip-sum over layers is the caller's)."""

    def __init__(self, in_features: int, n_mixtures: int = 20):
        super().__init__()
        self.n_mixtures = n_mixtures
        self.proj = nn.Linear(in_features, 1 + 6 * n_mixtures)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # oneDNN GEMMs on CPU float32 (genseq.nn.gemm.linear): ~3x faster than F.linear's
        # at 121 outputs over a training batch's B*T rows
        return linear(h, self.proj.weight, self.proj.bias)


@dataclass
class MDNParams:
    """Mixture parameters with leading dims (...). See split_params."""

    eos_logit: torch.Tensor  # (...,)     e = sigmoid(eos_logit)
    log_pi: torch.Tensor  # (..., M)      log mixture weights (normalised)
    mu: torch.Tensor  # (..., M, 2)
    log_sigma: torch.Tensor  # (..., M, 2)
    rho: torch.Tensor  # (..., M)         correlation in (-1, 1)
    rho_logit: torch.Tensor | None = None  # (..., M) ρ̂, if known: stable log(1 - ρ²)

    @property
    def n_mixtures(self) -> int:
        return self.log_pi.shape[-1]

    @property
    def eos_prob(self) -> torch.Tensor:
        return torch.sigmoid(self.eos_logit)

    def log_one_minus_rho2(self) -> torch.Tensor:
        """log(1 - ρ²), floored at log(ONE_M_RHO2_MIN); exact for large |ρ̂| when ρ̂ is known."""
        if self.rho_logit is not None:
            # 1 - tanh²(x) = sech²(x) = 4 / (e^|x| + e^-|x|)² -> 2 (log 2 - |x| - log(1 + e^-2|x|))
            a = self.rho_logit.abs()
            v = 2.0 * (math.log(2.0) - a - F.softplus(-2.0 * a))
        else:
            v = torch.log(((1.0 - self.rho) * (1.0 + self.rho)).clamp_min(ONE_M_RHO2_MIN))
        return v.clamp_min(math.log(ONE_M_RHO2_MIN))


def split_params(y_hat: torch.Tensor, n_mixtures: int, bias: float = 0.0) -> MDNParams:
    """Map raw ŷ (..., 1 + 6M) to mixture parameters (eqs 18-22), with sampling bias b (eqs 61-62).

    eq 18: the paper writes e = 1 / (1 + exp(ê)); we use the standard e = sigmoid(ê) =
    1 / (1 + exp(-ê)). Only the sign of the learned ê differs; the model family is the same.
    eq 19 / 62: π = softmax(π̂ (1 + b))     eq 20: μ = μ̂
    eq 21 / 61: σ = exp(σ̂ - b)            eq 22: ρ = tanh(ρ̂)
    b = 0 for training and unbiased sampling.
    """
    M = n_mixtures
    if y_hat.shape[-1] != 1 + 6 * M:
        raise ValueError(f"expected last dim {1 + 6 * M} for M={M}, got {y_hat.shape[-1]}")
    if y_hat.dtype in (torch.bfloat16, torch.float16):  # the likelihood in fp32 at least
        y_hat = y_hat.float()
    lead = y_hat.shape[:-1]
    eos_hat, pi_hat, mu_hat, sigma_hat, rho_hat = torch.split(y_hat, [1, M, 2 * M, 2 * M, M], -1)
    return MDNParams(
        eos_logit=eos_hat.squeeze(-1),  # eq 18 (sign convention above)
        log_pi=F.log_softmax(pi_hat * (1.0 + bias), dim=-1),  # eqs 19, 62
        mu=mu_hat.reshape(*lead, M, 2),  # eq 20
        log_sigma=sigma_hat.reshape(*lead, M, 2) - bias,  # eqs 21, 61 (log σ = σ̂ - b)
        rho=torch.tanh(rho_hat),  # eq 22
        rho_logit=rho_hat,
    )


def offset_log_prob(params: MDNParams, xy: torch.Tensor) -> torch.Tensor:
    """log Σ_j π_j N(xy | μ_j, σ_j, ρ_j) for xy (..., 2) -> (...) (eqs 23-25, in log space).

    log N = -log 2π - log σ1 - log σ2 - ½ log(1-ρ²) - Z / (2(1-ρ²)),
    Z = z1² + z2² - 2ρ z1 z2, z_i = (x_i - μ_i) / σ_i, evaluated without cancellation as
    Z / (1-ρ²) = (z1 - ρ z2)² / (1-ρ²) + z2².
    Guards: 1-ρ² >= 1e-6, log σ in [-60, 60], |z_i| <= 1e6 (gradients are zero past a guard).
    """
    log_sigma = params.log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    z = ((xy.unsqueeze(-2) - params.mu) * torch.exp(-log_sigma)).clamp(-Z_MAX, Z_MAX)
    z1, z2 = z[..., 0], z[..., 1]
    rho = params.rho
    log_1m = params.log_one_minus_rho2()
    r = z1 - rho * z2
    zq = r * r * torch.exp(-log_1m) + z2 * z2  # eq 25: Z / (1 - ρ²)
    log_n = -LOG_2PI - log_sigma.sum(-1) - 0.5 * log_1m - 0.5 * zq  # eq 24
    return torch.logsumexp(params.log_pi + log_n, dim=-1)  # eq 23 (mixture part)


def mdn_nll(
    params: MDNParams, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-point -log Pr(x_{t+1} | y_t) (eqs 23, 26), shape (...). Masked (False) points give 0."""
    if mask is not None:
        target = torch.where(mask.unsqueeze(-1), target, torch.zeros_like(target))  # NaN-safe pad
    log_p_xy = offset_log_prob(params, target[..., :2])
    # eq 23 end-of-stroke factor: e if x3 = 1 else 1 - e, as a stable logistic log-likelihood
    log_p_eos = -F.binary_cross_entropy_with_logits(
        params.eos_logit, target[..., 2].to(params.eos_logit.dtype), reduction="none"
    )
    nll = -(log_p_xy + log_p_eos)
    if mask is not None:
        nll = torch.where(mask, nll, torch.zeros_like(nll))
    return nll


def sequence_nll(
    params: MDNParams, target: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1
) -> torch.Tensor:
    """eq 26: L(x) = Σ_t -log Pr(x_{t+1} | y_t) per sequence, in nats; dim is the time dim of
    the per-point loss (default: last, i.e. (B, T) -> (B,))."""
    return mdn_nll(params, target, mask).sum(dim)


@torch.no_grad()
def mdn_sample(params: MDNParams, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw (Δx, Δy, eos) (..., 3): component j ~ π, offset ~ N(μ_j, σ_j, ρ_j), eos ~ Bern(e).
    For biased sampling pass params from split_params(..., bias=b)."""
    lead = params.eos_logit.shape
    M = params.n_mixtures
    dev = params.mu.device
    pi = params.log_pi.reshape(-1, M).float().exp()
    j = torch.multinomial(pi, 1, generator=generator).reshape(*lead, 1)
    mu = params.mu.gather(-2, j.unsqueeze(-1).expand(*lead, 1, 2)).squeeze(-2)
    sigma = params.log_sigma.gather(-2, j.unsqueeze(-1).expand(*lead, 1, 2)).squeeze(-2).exp()
    rho = params.rho.gather(-1, j).squeeze(-1)
    n = torch.randn((*lead, 2), generator=generator, device=dev, dtype=mu.dtype)
    x = mu[..., 0] + sigma[..., 0] * n[..., 0]
    c = torch.sqrt((1.0 - rho * rho).clamp_min(0.0))
    y = mu[..., 1] + sigma[..., 1] * (rho * n[..., 0] + c * n[..., 1])
    u = torch.rand(lead, generator=generator, device=dev, dtype=mu.dtype)
    eos = (u < params.eos_prob.to(mu.dtype)).to(mu.dtype)
    return torch.stack([x, y, eos], dim=-1)


@functools.lru_cache(maxsize=8)
def gather_plan(M: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Column of (μ1, μ2, σ̂1, σ̂2, ρ̂) of component j in ŷ = first + j * step."""
    step = torch.tensor([[2, 2, 2, 2, 1]], device=device)
    first = torch.tensor([[1 + M, 2 + M, 1 + 3 * M, 2 + 3 * M, 1 + 5 * M]], device=device)
    return step, first


@torch.no_grad()
def mdn_draw(
    y_hat: torch.Tensor,
    n_mixtures: int,
    bias: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`mdn_sample(split_params(y_hat, M, bias))` for raw ŷ (N, 1+6M) in about a third of the
    ops: the per-step sampler's hot path. Same distribution (tests compare moments); it uses
    the random stream differently. The component is drawn by inverse CDF, its five parameters
    (μ1, μ2, σ̂1, σ̂2, ρ̂) taken with one gather."""
    step, first = gather_plan(n_mixtures, y_hat.device)
    return draw_planned(y_hat, n_mixtures, bias, generator, step, first)


def draw_planned(
    y_hat: torch.Tensor,
    M: int,
    bias: float,
    generator: torch.Generator | None,
    step: torch.Tensor,
    first: torch.Tensor,
) -> torch.Tensor:
    """`mdn_draw` given its gather plan (`gather_plan(M)`); TorchScript-compatible, so the
    scripted sampling loop (`genseq.hand.sampler_loop`) draws with the very same ops."""
    N, dt = y_hat.shape[0], y_hat.dtype
    r = torch.rand([N, 2], generator=generator, device=y_hat.device, dtype=dt)  # component, eos
    n = torch.randn([N, 2], generator=generator, device=y_hat.device, dtype=dt)
    cdf = torch.softmax(y_hat[:, 1 : 1 + M] * (1.0 + bias), -1).cumsum_(-1)  # eqs 19, 62
    # (N, 1) component index; r scaled by the total so rounding cannot step past the end
    j = (cdf < r[:, :1] * cdf[:, -1:]).sum(-1, keepdim=True).clamp_(max=M - 1)
    # columns of ŷ = [ê, π̂ (M), (μ1, μ2) x M, (σ̂1, σ̂2) x M, ρ̂ (M)] (split_params' layout)
    g = y_hat.gather(1, torch.addcmul(first, j, step))
    sigma = (g[:, 2:4] - bias).exp_()  # eqs 21, 61
    rho = g[:, 4].tanh()  # eq 22
    out = torch.empty([N, 3], device=y_hat.device, dtype=dt)
    torch.addcmul(g[:, 0], sigma[:, 0], n[:, 0], out=out[:, 0])
    corr = rho * n[:, 0] + (1.0 - rho * rho).clamp_(min=0.0).sqrt_() * n[:, 1]
    torch.addcmul(g[:, 1], sigma[:, 1], corr, out=out[:, 1])
    torch.lt(r[:, 1], torch.sigmoid(y_hat[:, 0]), out=out[:, 2])  # eq 18: eos ~ Bernoulli(e)
    return out


def mdn_mean(params: MDNParams) -> torch.Tensor:
    """Mean prediction (Σ_j π_j μ_j, e) (..., 3), e.g. for the SSE metric of Tables 3-4."""
    mean_xy = (params.log_pi.exp().unsqueeze(-1) * params.mu).sum(-2)
    return torch.cat([mean_xy, params.eos_prob.unsqueeze(-1).to(mean_xy.dtype)], dim=-1)
