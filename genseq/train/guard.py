"""Numerical-fault guard of the training loop: poisoned numbers never reach the weights.

A step whose loss or gradient norm is NaN or ±inf is skipped: no optimizer update, nothing
added to the logged loss, one `{"step", "skipped"}` line in metrics.jsonl and one warning on
stderr. The carried TBPTT state stays the one from before the step. After `max_bad` skipped
steps in a row the run rolls back to its last checkpoint (weights, optimizer, RNG, data
position: `Trainer.resume`) with the learning rate multiplied by `lr_factor`; when no
checkpoint has been written yet, the weights are still the last good ones (every bad update
was skipped), so only the rate is lowered. After `max_rollbacks` such recoveries, or once the
rate is at the run's `min_lr`, the run stops with one clear error instead.

Under DDP every rank takes the same decisions: the loss is the global one and the gradients
are already averaged over the ranks when they are checked.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from genseq.errors import GenseqError

if TYPE_CHECKING:
    from genseq.train.trainer import Trainer

MAX_BAD = 3  # skipped steps in a row before a rollback
LR_FACTOR = 0.5  # learning-rate multiplier on each rollback
MAX_ROLLBACKS = 5


def grad_norm(model: nn.Module, clip: float) -> Tensor:
    """The global gradient norm (2-norm over all parameters; NaN/inf if any gradient is);
    with clip > 0 the gradients are also rescaled to norm <= clip."""
    params = [p for p in model.parameters() if p.grad is not None]
    if clip > 0:
        return torch.nn.utils.clip_grad_norm_(params, clip)
    if not params:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm([p.grad for p in params])


class NumericGuard:
    def __init__(
        self,
        max_bad: int = MAX_BAD,
        lr_factor: float = LR_FACTOR,
        max_rollbacks: int = MAX_ROLLBACKS,
    ):
        self.max_bad, self.lr_factor, self.max_rollbacks = max_bad, lr_factor, max_rollbacks
        self.in_a_row = 0
        self.skipped = False  # the last step was skipped
        self.rollbacks = 0
        self.total_skipped = 0
        self.last = (0.0, 0.0)  # loss and gradient norm of the last checked step

    def check(self, loss: float, norm: Tensor) -> bool:
        """True when the step must be skipped (its loss or gradient norm is not finite)."""
        self.last = (loss, float(norm))
        self.skipped = not (math.isfinite(loss) and math.isfinite(self.last[1]))
        if self.skipped:
            self.in_a_row += 1
            self.total_skipped += 1
        else:
            self.in_a_row = 0
        return self.skipped

    def after_skip(self, tr: Trainer) -> bool:
        """Log the skipped step (`tr.step` is its number, counted); roll back when due.
        True when the run was rolled back (the loop then continues from the restored step)."""
        loss, norm = self.last
        what = "loss" if not math.isfinite(loss) else "gradient"
        tr._log({"step": tr.step, "skipped": what, "loss": _num(loss), "grad_norm": _num(norm)})
        if tr.main:
            print(
                f"genseq: warning: step {tr.step}: non-finite {what} (loss {loss:g}, gradient "
                f"norm {norm:g}): update skipped",
                file=sys.stderr,
            )
        if self.in_a_row < self.max_bad:
            return False
        return self._recover(tr)

    def _recover(self, tr: Trainer) -> bool:
        lr = tr.opt.param_groups[0]["lr"]
        new = lr * self.lr_factor
        if self.rollbacks >= self.max_rollbacks or new < tr.cfg.min_lr:
            raise GenseqError(
                f"training diverged at step {tr.step}: {self.in_a_row} non-finite steps in a "
                f"row after {self.rollbacks} rollbacks (lr {lr:g}); start a new run with a "
                "lower --lr or a --clip"
            )
        self.rollbacks += 1
        self.in_a_row = 0
        at = tr.step
        if tr.ckpt_path.is_file():
            tr.resume(lr=new)  # weights, optimizer, RNG, step and data position of the checkpoint
        else:  # nothing written yet: the weights are the last good ones already
            for g in tr.opt.param_groups:
                g["lr"] = new
            tr.cfg.lr = new
        tr._log({"step": tr.step, "rollback_from": at, "lr": new})
        if tr.main:
            print(
                f"genseq: warning: {self.max_bad} non-finite steps in a row: back to step "
                f"{tr.step} with lr {new:g}",
                file=sys.stderr,
            )
        return True


def _num(x: float) -> float | str:
    """A number as strict JSON can hold it: non-finite ones as "nan", "inf", "-inf"."""
    return x if math.isfinite(x) else str(x)
