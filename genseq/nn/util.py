"""Small helpers every layer above `nn` shares: an eval-mode block, a parameter count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Within the block the module is in eval mode (dropout off); on exit its previous
    train/eval mode is restored, also when the block raises."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


def count_parameters(model: nn.Module) -> int:
    """Number of weights (every element of every parameter)."""
    return sum(p.numel() for p in model.parameters())
