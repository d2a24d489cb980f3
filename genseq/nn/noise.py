"""Weight noise (Graves 2013, §3-4) and adaptive weight noise (Graves 2011, "Practical
variational inference for neural networks"). Both act on the weights (not the biases).

Fixed weight noise: Gaussian noise of std σ is added to the weights for one training sequence,
the gradient is taken at the noisy weights, the clean weights are restored before the update.
The paper draws it per sequence. `noise_groups` (trainer) splits each batch's sequences into
G groups, each with its own draw and its own forward/backward pass: G = batch size is the
paper's per-sequence noise exactly; G = 1 is one draw for the whole batch (cheapest, and what
genseq did before). A shared draw correlates the B sequences' gradients, so a batch of B
averages less noise away than B per-sequence draws would.

Adaptive weight noise (the paper's best rows, §4-5): every weight has a Gaussian posterior
Q = N(μ_i, σ_i²); the loss is the description length (Graves 2011 eq 8-13)
    F = E_{w~Q}[L(w)] + L^C,   L^C = Σ_i KL(N(μ_i, σ_i²) || P),
with one Gaussian prior P = N(μ_p, σ_p²) over all weights, at its optimum (closed form):
    μ_p = mean_i μ_i,   σ_p² = mean_i [σ_i² + (μ_i - μ_p)²],
where L^C = Σ_i ln(σ_p / σ_i) and (envelope theorem: the prior's own gradient is zero)
    ∂L^C/∂μ_i = (μ_i - μ_p) / σ_p²,   ∂L^C/∂σ_i = σ_i / σ_p² - 1 / σ_i.
The data term is estimated at one sample w = μ + σ ⊙ ε per noise group: ∂/∂μ_i = ∂L/∂w_i and
the pathwise ∂/∂σ_i = ε_i ∂L/∂w_i (unbiased for any batch or group size; Graves 2011 uses the
biased ½ (∂L/∂w_i)² for ∂/∂σ_i², which needs per-sequence gradients). σ is kept as s = ln σ
(∂/∂s = σ ∂/∂σ), all σ start at init_std (the paper: 0.075), μ is the model's own weights,
so evaluation, sampling and the saved model use μ. L^C is spread over an epoch: each update
adds weight · L^C, weight = 1 / (the number of loss terms, in the loss's normalisation, that
one epoch of updates sums: the training lines for handwriting, the symbols for text).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def noisy_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for _, p in named_noisy_parameters(model)]


def named_noisy_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights that carry noise: every trainable parameter but the biases."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and "bias" not in n]


@contextmanager
def weight_noise(model: nn.Module, std: float) -> Iterator[None]:
    """Within the block the weights carry fresh N(0, std²) noise; on exit they are restored
    exactly (the saved copy, not a subtraction), gradients are kept."""
    if std <= 0:
        yield
        return
    params = noisy_parameters(model)
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p), alpha=std)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)


# --- adaptive weight noise (Graves 2011) --------------------------------------------------------
def optimal_prior(mu: list[Tensor], sigma: list[Tensor]) -> tuple[Tensor, Tensor]:
    """(μ_p, σ_p²) of the Gaussian prior minimising L^C for these posteriors (float64)."""
    n = sum(m.numel() for m in mu)
    mu_p = sum(m.double().sum() for m in mu) / n
    pairs = zip(mu, sigma, strict=True)
    var_p = sum((s.double() ** 2 + (m.double() - mu_p) ** 2).sum() for m, s in pairs) / n
    return mu_p, var_p


def complexity_cost(mu: list[Tensor], log_sigma: list[Tensor]) -> Tensor:
    """L^C = Σ_i KL(N(μ_i, σ_i²) || N(μ_p, σ_p²)) at the optimal prior, in nats (the full
    KL, differentiable: a reference for `complexity_grads`)."""
    sigma = [s.double().exp() for s in log_sigma]
    mu_p, var_p = optimal_prior(mu, sigma)
    total = torch.zeros((), dtype=torch.float64)
    for m, s, ls in zip(mu, sigma, log_sigma, strict=True):
        kl = 0.5 * torch.log(var_p) - ls.double() + (s**2 + (m.double() - mu_p) ** 2) / (2 * var_p)
        total = total + (kl - 0.5).sum()
    return total


def complexity_grads(
    mu: list[Tensor], log_sigma: list[Tensor]
) -> tuple[list[Tensor], list[Tensor], float]:
    """Closed-form (∂L^C/∂μ, ∂L^C/∂ln σ, L^C) at the optimal prior (module docstring)."""
    with torch.no_grad():
        sigma = [s.double().exp() for s in log_sigma]
        mu_p, var_p = optimal_prior(mu, sigma)
        n = sum(m.numel() for m in mu)
        cost = 0.5 * n * math.log(var_p.item()) - sum(ls.double().sum().item() for ls in log_sigma)
        d_mu = [((m.double() - mu_p) / var_p).to(m.dtype) for m in mu]
        d_ls = [(s**2 / var_p - 1.0).to(ls.dtype) for s, ls in zip(sigma, log_sigma, strict=True)]
    return d_mu, d_ls, cost


class AdaptiveWeightNoise(nn.Module):
    """ln σ for each noisy weight of `model` (whose own values are the means μ); see the module
    docstring. Use: `with awn.sampled(model):` forward + backward, then `awn.add_grads(model,
    weight)`; the optimizer steps model.parameters() and awn.parameters() together."""

    def __init__(self, model: nn.Module, init_std: float = 0.075):
        super().__init__()
        if not init_std > 0:
            raise ValueError(f"adaptive weight noise needs an initial std > 0, got {init_std}")
        named = named_noisy_parameters(model)
        self.names = [n for n, _ in named]
        self.log_sigma = nn.ParameterList(
            [nn.Parameter(torch.full_like(p, math.log(init_std))) for _, p in named]
        )
        self.cost = 0.0  # L^C at the last add_grads (nats)

    def _mu(self, model: nn.Module) -> list[nn.Parameter]:
        params = dict(model.named_parameters())
        return [params[n] for n in self.names]

    @contextmanager
    def sampled(self, model: nn.Module) -> Iterator[None]:
        """Within the block the weights are w = μ + σ ⊙ ε (fresh ε); on exit μ is back and
        ε ⊙ ∂L/∂w of the block's backward is added to ∂/∂σ (as ∂/∂ln σ)."""
        mu = self._mu(model)
        saved = [p.detach().clone() for p in mu]
        before = [None if p.grad is None else p.grad.clone() for p in mu]
        eps = [torch.randn_like(p) for p in mu]
        with torch.no_grad():
            for p, ls, e in zip(mu, self.log_sigma, eps, strict=True):
                p.add_(ls.exp() * e)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, s, ls, e, b in zip(mu, saved, self.log_sigma, eps, before, strict=True):
                    p.copy_(s)
                    if p.grad is None:
                        continue
                    g = p.grad if b is None else p.grad - b  # this block's ∂L/∂w
                    d = g * e * ls.exp()  # pathwise: ∂w/∂ln σ = σ ε
                    ls.grad = d if ls.grad is None else ls.grad.add_(d)

    def add_grads(self, model: nn.Module, weight: float) -> None:
        """Add weight · ∇L^C to the gradients of μ (the model's weights) and ln σ."""
        mu = self._mu(model)
        d_mu, d_ls, self.cost = complexity_grads(mu, list(self.log_sigma))
        with torch.no_grad():
            for p, g in zip(list(mu) + list(self.log_sigma), d_mu + d_ls, strict=True):
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                p.grad.add_(g, alpha=weight)

    def summary(self) -> dict[str, float]:
        """σ's mean and extremes and L^C at the last update (for the metrics log)."""
        s = torch.cat([ls.detach().exp().flatten() for ls in self.log_sigma])
        return {
            "sigma_mean": s.mean().item(),
            "sigma_min": s.min().item(),
            "sigma_max": s.max().item(),
            "complexity_nats": self.cost,
        }
