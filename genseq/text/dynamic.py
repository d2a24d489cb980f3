"""Choosing dynamic evaluation's step size (§3) on validation data, never on the test set.

Graves states the rate of his training SGD (1e-4, momentum 0.99, on per-sequence summed
gradients) but the step that suits dynamic evaluation depends on the model and on how it
was trained, so a small grid of rates is tried on (a prefix of) the validation split, with
the momentum and stream layout the final evaluation will use, and the rate with the lowest
validation loss is the one used on the test split. Rate 0 is static evaluation, so with it in
the grid the chosen rate never does worse than static on that validation text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from genseq.errors import GenseqError
from genseq.text.evaluate import evaluate
from genseq.text.model import TextModel

RATES = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)  # the default grid, per summed-gradient step


@dataclass
class RateChoice:
    rate: float  # the chosen step size
    nats: dict[float, float]  # validation nats per symbol at each rate tried
    symbols: int  # validation symbols each try predicted

    def as_dict(self) -> dict:
        return {
            "dynamic_lr": self.rate,
            "dynamic_lr_search": {f"{r:g}": v for r, v in self.nats.items()},
            "dynamic_lr_search_symbols": self.symbols,
        }


def choose_rate(
    model: TextModel,
    valid: Tensor,
    level: str,
    rates: Sequence[float] = RATES,
    momentum: float = 0.0,
    symbols: int = 0,
    batch_size: int = 1,
    seq_len: int = 100,
) -> RateChoice:
    """Dynamic evaluation of the first `symbols` of `valid` (0: all of it) at every rate in
    `rates` -> the rate with the lowest loss (the smaller rate on a tie), and each rate's loss.
    The model's weights are as before."""
    if not rates or any(not r >= 0 for r in rates):
        raise GenseqError("dynamic evaluation rates must be >= 0 (give at least one)")
    if not 0 <= momentum < 1:
        raise GenseqError(f"--dynamic-momentum must be in [0, 1), got {momentum}")
    data = valid[:symbols] if symbols > 0 else valid
    nats, n = {}, 0
    for r in sorted(set(float(r) for r in rates)):
        m = evaluate(model, data, level, batch_size, seq_len, True, r, dynamic_momentum=momentum)
        nats[r], n = m.nats, m.symbols
    best = min(nats, key=lambda r: (nats[r], r))
    return RateChoice(best, nats, n)
