"""Optimizers: Adam, SGD with momentum, and Graves' RMSProp (eqs 38–45)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from genseq.errors import GenseqError

OPTIMIZERS = ("adam", "rmsprop-graves", "sgd")


class GravesRMSProp(torch.optim.Optimizer):
    """The RMSProp variant of §4.2 (eqs 38–45), with ε = ∂L/∂w:

        n_i = ℵ n_i + (1 − ℵ) ε_i²                    eq. 39
        g_i = ℵ g_i + (1 − ℵ) ε_i                      eq. 40
        Δ_i = ℶ Δ_i − ℷ ε_i / sqrt(n_i − g_i² + ℸ)     eq. 41
        w_i = w_i + Δ_i                                eq. 42
    with ℵ = 0.95, ℶ = 0.9 (momentum), ℷ = 1e-4 (lr), ℸ = 1e-4 (eqs 43–45).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-4,
        alpha: float = 0.95,
        momentum: float = 0.9,
        eps: float = 1e-4,
    ):
        super().__init__(params, dict(lr=lr, alpha=alpha, momentum=momentum, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            a, m, lr, eps = group["alpha"], group["momentum"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                e = p.grad
                st = self.state[p]
                if not st:
                    st["n"] = torch.zeros_like(p)
                    st["g"] = torch.zeros_like(p)
                    st["delta"] = torch.zeros_like(p)
                n, g, d = st["n"], st["g"], st["delta"]
                n.mul_(a).addcmul_(e, e, value=1 - a)  # eq. 39
                g.mul_(a).add_(e, alpha=1 - a)  # eq. 40
                denom = (n - g * g).add_(eps).sqrt_()
                d.mul_(m).addcdiv_(e, denom, value=-lr)  # eq. 41
                p.add_(d)  # eq. 42
        return loss


def make_optimizer(
    name: str, params: Iterable[Tensor], lr: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "rmsprop-graves":
        return GravesRMSProp(params, lr=lr, momentum=momentum)
    raise GenseqError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")
