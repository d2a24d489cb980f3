"""Weight noise (§3): Gaussian noise of std σ added to the weights for one training sequence
(here: one batch), gradients taken at the noisy weights, then the clean weights restored
before the optimizer step. Off at evaluation. Biases are left clean."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def noisy_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for name, p in model.named_parameters() if p.requires_grad and "bias" not in name]


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
