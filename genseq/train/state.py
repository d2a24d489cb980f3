"""A training run's state in `checkpoint.safetensors`: what `Trainer.save_checkpoint` writes
and `Trainer.resume` reads back, so a resumed run continues with the very numbers an
uninterrupted one would have produced.

Tensors: `model.*` (weights), `noise.*` (adaptive noise's ln σ), `optim.*` (optimizer state),
`rng.torch[.rankR]` (each rank's RNG), `carry.*` (the TBPTT state carried into the next step;
under DDP the global batch's, the ranks' rows in order). JSON metadata: step, best metric,
plateau counter, the log window, the training settings, the carry's shapes and the config
that rebuilds the model.

Carried state is checked at load time: its names and shapes must be the ones recorded when it
was saved, share one batch size, and fit the task (`carry_shapes`, when the task has it), so
a damaged or foreign checkpoint is one clear error rather than a crash at the next step.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genseq.errors import GenseqError
from genseq.train import checkpoint as ckpt
from genseq.train import distributed as ddp
from genseq.train.config import RESUME_FIELDS, TrainConfig
from genseq.train.metrics import read_metrics, rewrite_metrics
from genseq.train.noisy import adaptive_noise
from genseq.train.optim import make_optimizer
from genseq.train.validate import check_train_config

if TYPE_CHECKING:
    from genseq.train.trainer import Trainer

Shapes = dict[str, tuple[int, ...]]


# ---- saving -----------------------------------------------------------------------------------
def save_state(tr: Trainer) -> None:
    """Every rank must call it under DDP (the carries and RNG states are gathered); rank 0
    writes."""
    carry, rngs = _gathered(tr)
    if not tr.main:
        return
    tensors, opt_meta = _tensors(tr, carry, rngs)
    ckpt.save_tensors(tr.ckpt_path, tensors, _meta(tr, carry, opt_meta))


def _gathered(tr: Trainer) -> tuple[dict[str, Tensor] | None, list[Tensor]]:
    """The global batch's carry and every rank's RNG state (this process's alone without DDP)."""
    carry, rngs = tr.carry, [torch.get_rng_state()]
    if tr.world > 1:
        parts = ddp.all_gather((tr.carry, rngs[0]))
        rngs = [r for _, r in parts]
        if carry is not None:  # the global batch's carry: the ranks' rows in order
            carry = {
                k: torch.cat([p[k] for p, _ in parts], ddp.carry_batch_dim(v))
                for k, v in carry.items()
            }
    return carry, rngs


def _tensors(
    tr: Trainer, carry: dict[str, Tensor] | None, rngs: list[Tensor]
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Every tensor of the checkpoint, and the optimizer's JSON half."""
    tensors = {f"model.{k}": v for k, v in tr.model.state_dict().items()}
    if tr.awn is not None:  # the posterior's ln σ (μ is the model)
        tensors.update({f"noise.{k}": v for k, v in tr.awn.state_dict().items()})
    opt_t, opt_meta = ckpt.optimizer_to_tensors(tr.opt)
    tensors.update(opt_t)
    tensors["rng.torch"] = rngs[0]
    for r, state in enumerate(rngs[1:], 1):
        tensors[f"rng.torch.rank{r}"] = state
    for k, v in (carry or {}).items():
        tensors[f"carry.{k}"] = v
    return tensors, opt_meta


def _meta(tr: Trainer, carry: dict[str, Tensor] | None, opt_meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": tr.step,
        "best": tr.best,
        "bad_evals": tr.bad_evals,
        "run": [tr.run_loss, tr.run_units, *tr.run_norm],
        # the task's own log-window counters (HandTask: points, lines), when it has any
        "task_log": getattr(tr.task, "log_state", lambda: None)(),
        "pending_eval": tr.pending_eval,
        "optimizer": opt_meta,
        "train": asdict(tr.cfg),
        "has_carry": tr.carry is not None,
        "carry_shapes": {k: list(v.shape) for k, v in (carry or {}).items()},
        "world": tr.world,
        # enough to rebuild the model before any config.json exists
        "config": {"kind": tr.model.kind, "model": tr.model.config_dict(), **tr.extra},
    }


# ---- loading ----------------------------------------------------------------------------------
def load_state(tr: Trainer, lr: float | None) -> None:
    """Continue the run saved in `tr.out`; `lr` (an explicit --lr) replaces its current rate.
    Raises GenseqError, or KeyError / TypeError / ValueError / RuntimeError / IndexError for
    a checkpoint that does not fit (`Trainer.resume` makes those one clear line)."""
    tensors, meta = ckpt.load_tensors(tr.ckpt_path)
    if "step" not in meta:
        raise GenseqError(f"{tr.ckpt_path} is not a genseq training checkpoint")
    _restore_settings(tr, meta)
    _restore_weights(tr, tensors, meta, lr)
    _restore_carry(tr, tensors, meta)  # (the task may read a batch to check it: RNG after)
    own = f"rng.torch.rank{tr.rank}"  # this rank's stream, if the run had as many ranks
    same = meta.get("world", 1) == tr.world
    torch.set_rng_state(tensors[own] if same and own in tensors else tensors["rng.torch"])
    _restore_counters(tr, meta)
    # drop log lines written after the checkpoint: they will be written again
    tr.history = [r for r in read_metrics(tr.metrics_path) if r["step"] <= tr.step]
    ddp.barrier()  # every rank has read metrics.jsonl before rank 0 rewrites it
    if tr.main:
        rewrite_metrics(tr.metrics_path, tr.history)


def _restore_settings(tr: Trainer, meta: dict[str, Any]) -> None:
    """The run's training settings; only its limits (and precision) may change on resume."""
    old = TrainConfig.from_dict(meta["train"])
    for f in fields(TrainConfig):
        if f.name not in RESUME_FIELDS:
            setattr(tr.cfg, f.name, getattr(old, f.name))


def _restore_weights(
    tr: Trainer, tensors: dict[str, Tensor], meta: dict[str, Any], lr: float | None
) -> None:
    """Model, adaptive noise and optimizer state; an explicit `lr` replaces the saved rate."""
    tr.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    tr.awn = adaptive_noise(tr.model, tr.cfg, tr.world)
    if tr.awn is not None:
        tr.awn.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("noise.")})
    tr.opt = make_optimizer(tr.cfg.optimizer, tr._params(), tr.cfg.lr, tr.cfg.momentum)
    ckpt.optimizer_from_tensors(tr.opt, tensors, meta["optimizer"])
    if lr is not None:
        if lr <= 0:
            raise GenseqError(f"--lr must be > 0, got {lr}")
        tr.cfg.lr = lr
        for g in tr.opt.param_groups:
            g["lr"] = lr


def _restore_carry(tr: Trainer, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    carry = {k[6:]: v for k, v in tensors.items() if k.startswith("carry.")}
    if not meta["has_carry"]:
        tr.carry = None
        return
    step = meta["step"]
    nb = tr.task.num_batches() if isinstance(step, int) and step >= 0 else 0
    expected = None
    if nb > 0 and hasattr(tr.task, "carry_shapes"):
        expected = tr.task.carry_shapes(tr.model, *divmod(step, nb))
    check_carry(carry, meta.get("carry_shapes"), expected, str(tr.ckpt_path))
    if tr.world > 1:  # this rank's rows of the global carry
        carry = {k: ddp.shard_rows(v, ddp.carry_batch_dim(v)) for k, v in carry.items()}
    tr.carry = carry


def _restore_counters(tr: Trainer, meta: dict[str, Any]) -> None:
    tr.step, tr.best, tr.bad_evals = meta["step"], float(meta["best"]), meta["bad_evals"]
    run = [float(v) for v in meta["run"]]  # loss, units, norm window (older checkpoints: 2)
    if len(run) not in (2, 5):
        raise ValueError(f"the log window holds {len(run)} numbers, not 2 or 5")
    tr.run_loss, tr.run_units = run[:2]
    tr.run_norm = run[2:] if len(run) == 5 else [0.0, 0.0, 0.0]
    if meta.get("task_log") is not None and hasattr(tr.task, "load_log_state"):
        tr.task.load_log_state(meta["task_log"])
    check_train_config(tr.cfg)
    if not all(isinstance(n, int) and n >= 0 for n in (tr.step, tr.bad_evals)):
        raise ValueError("its step counters are not integers >= 0")
    tr.pending_eval = meta.get("pending_eval", False)


def check_carry(
    carry: dict[str, Tensor], recorded: Any, expected: Shapes | None, where: str
) -> None:
    """The carried TBPTT state as the next step will read it, or one GenseqError: floating
    point tensors with one batch size, the names and shapes recorded at save time (checkpoints
    older than that record: not checked), and those the task expects at the step resumed
    (`expected`; None: the task does not say, or does not read the carry at that step)."""
    if recorded is not None:
        if not isinstance(recorded, dict):
            raise GenseqError(f"{where} does not fit this run: its carry record is damaged")
        _same_shapes(carry, {k: tuple(v) for k, v in recorded.items()}, where, "saved")
    for k, v in carry.items():
        if not v.is_floating_point():
            raise GenseqError(f"{where} does not fit this run: carried {k!r} is {v.dtype}")
    batches = {v.shape[ddp.carry_batch_dim(v)] for v in carry.values() if v.dim() > 0}
    if len(batches) > 1 or any(v.dim() == 0 for v in carry.values()):
        raise GenseqError(
            f"{where} does not fit this run: its carried state has no single batch size "
            f"({_describe(carry)})"
        )
    if expected is not None:
        _same_shapes(carry, expected, where, "this run carries")


def _same_shapes(carry: dict[str, Tensor], want: Shapes, where: str, what: str) -> None:
    if set(carry) != set(want) or any(tuple(carry[k].shape) != tuple(want[k]) for k in want):
        shown = ", ".join(f"{k} {tuple(s)}" for k, s in sorted(want.items())) or "nothing"
        raise GenseqError(
            f"{where} does not fit this run: its carried state is {_describe(carry)}; "
            f"{what} {shown}"
        )


def _describe(carry: dict[str, Tensor]) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in sorted(carry.items())) or "nothing"
