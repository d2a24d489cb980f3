"""Graves' derivative clips act on ONE sequence's loss (2013, §4: ε_i = ∂C(x)/∂w_i for one
sequence x; output derivatives clipped to [-100, 100], LSTM derivatives to [-10, 10]).

A batch trains on a loss ℓ = s · Σ_j L(x_j): s = 1/B for the mean over B sequences (or
1/(B·T) for a mean per symbol). Every clipped tensor (the network outputs ŷ, the LSTM
pre-activations) has one row per sequence, so its gradient for row j is s · ∂L(x_j)/∂(row j),
and since clamping is positively homogeneous,
    clamp(s · g, -s·v, s·v) = s · clamp(g, -v, v).
So clamping the batch-loss gradient at s·v gives exactly the mean (times s·B) of the
per-sequence clipped gradients, which is what training one sequence at a time with clips at v
and averaging would give. Clamping at v instead (what a plain batch mean does) is 1/s times
looser: with B = 32 and v = 100, a sequence's output derivatives would be clipped at 3,200.

The task that builds ℓ knows s and wraps the forward pass in `per_sequence_clips(s)`; every
clip threshold taken in that forward pass (`clip_threshold`: `clip_grad` here, on the
network outputs and in `genseq.nn.lstm`, and the LSTM clips of `genseq.nn.scan`) is then
v · s. Outside the block (evaluation, sampling, a bare model) the thresholds are v.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor

_SCALE: ContextVar[float] = ContextVar("genseq_clip_scale", default=1.0)


@contextmanager
def per_sequence_clips(scale: float) -> Iterator[None]:
    """Within the block, clip thresholds are multiplied by `scale` = ∂ℓ/∂L(x_j), the weight of
    one sequence's loss in the loss that is backpropagated."""
    if not scale > 0:
        raise ValueError(f"clip scale must be > 0, got {scale}")
    token = _SCALE.set(float(scale))
    try:
        yield
    finally:
        _SCALE.reset(token)


def clip_threshold(v: float) -> float:
    """The threshold to clamp a gradient at for a per-sequence clip of v (0 stays 0: off)."""
    return float(v) * _SCALE.get()


class _ClipGrad(torch.autograd.Function):
    """Identity forward; backward clamps the incoming derivative to [-v, v]."""

    @staticmethod
    def forward(ctx, x: Tensor, v: float) -> Tensor:  # type: ignore[override]
        ctx.v = v
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return g.clamp(-ctx.v, ctx.v), None


def clip_grad(x: Tensor, v: float) -> Tensor:
    """x in forward; dL/dx clamped in backward to [-t, t], t = `clip_threshold(v)` (v per
    sequence); v <= 0: x itself, no clip.

    Graves (§4.2) clips the output derivatives (dL/dŷ, to [-100, 100]: apply to ŷ before
    `split_params`) and the LSTM derivatives (the pre-activations', to [-10, 10])."""
    return _ClipGrad.apply(x, clip_threshold(v)) if v > 0 else x
