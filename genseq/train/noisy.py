"""One update's forward + backward under weight noise drawn per group of sequences
(genseq.nn.noise): fixed noise (`std`) or adaptive noise (`awn`), G groups of each batch's
rows, each with its own draw, gradients summed. G = 1 is one draw per batch.

A task that supports G > 1 has a `group` attribute (g, G), (0, 1) by default, and serves only
rows `group_rows(...)` of its batch when G > 1, with the loss scaled as for the whole batch (so
the groups' gradients add up to the batch's) and its shared counters updated by group 0 only.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from genseq.errors import GenseqError
from genseq.nn.noise import AdaptiveWeightNoise, weight_noise
from genseq.train.distributed import carry_batch_dim, shard_slice

Carry = dict[str, Tensor] | None


def group_rows(n: int, rank: int, world: int, group: tuple[int, int]) -> slice:
    """Rows of noise group group[0] of group[1] among the `n` rows of a batch that belong to
    process `rank` of `world` (contiguous, as genseq.train.distributed.shard_slice)."""
    r = shard_slice(n, rank, world)
    s = shard_slice(r.stop - r.start, *group)
    return slice(r.start + s.start, r.start + s.stop)


def _carry_rows(carry: Carry, g: int, groups: int) -> Carry:
    if carry is None:
        return None
    out = {}
    for k, v in carry.items():
        d = carry_batch_dim(v)
        s = shard_slice(v.shape[d], g, groups)
        out[k] = v.narrow(d, s.start, s.stop - s.start)
    return out


def _cat(carries: list[Carry]) -> Carry:
    parts = [c for c in carries if c]
    if not parts:
        return None
    return {k: torch.cat([c[k] for c in parts], carry_batch_dim(parts[0][k])) for k in parts[0]}


def _noise(model: nn.Module, std: float, awn: AdaptiveWeightNoise | None) -> AbstractContextManager:
    if awn is not None:
        return awn.sampled(model)
    return weight_noise(model, std) if std > 0 else nullcontext()


def noisy_backward(
    task: Any,
    net: nn.Module,
    model: nn.Module,
    step: tuple[int, int],
    carry: Carry,
    std: float = 0.0,
    groups: int = 1,
    awn: AdaptiveWeightNoise | None = None,
    autocast: Any = None,
) -> tuple[float, float, Carry]:
    """Backward of update `step` = (epoch, i), gradients accumulated into the (zeroed) grads
    -> (mean loss value per unit, units, new carry). autocast: a context factory the forward
    passes run under (genseq.nn.precision; None: as they are)."""
    autocast = autocast or contextlib.nullcontext
    epoch, i = step
    if groups <= 1:
        with _noise(model, std, awn):
            with autocast():  # the forward only; backward follows the forward's casts
                loss, units, new = task.loss(net, epoch, i, carry)
            loss.backward()
        return loss.item(), float(units), new
    if not hasattr(task, "group"):
        raise GenseqError(f"{type(task).__name__} cannot draw weight noise per group")
    total = count = 0.0
    carries = []
    try:
        for g in range(groups):
            task.group = (g, groups)
            with _noise(model, std, awn):
                with autocast():
                    loss, units, new = task.loss(net, epoch, i, _carry_rows(carry, g, groups))
                loss.backward()
            total += loss.item() * float(units)
            count += float(units)
            carries.append(new)
    finally:
        task.group = (0, 1)
    return (total / count if count > 0 else 0.0), count, _cat(carries)


def adaptive_noise(model: nn.Module, cfg: Any, world: int) -> AdaptiveWeightNoise | None:
    """The run's adaptive weight noise (cfg: a TrainConfig), None without --adaptive-noise;
    refuses the settings that do not go together."""
    if cfg.noise_groups < 1:
        raise GenseqError(f"--noise-groups must be >= 1, got {cfg.noise_groups}")
    if world > 1 and (cfg.noise_groups > 1 or cfg.adaptive_noise > 0):
        raise GenseqError("--noise-groups > 1 and --adaptive-noise do not run with --distributed")
    if cfg.adaptive_noise <= 0:
        return None
    if cfg.weight_noise > 0:
        raise GenseqError("give --weight-noise or --adaptive-noise, not both")
    return AdaptiveWeightNoise(model, cfg.adaptive_noise)
