"""The one training loop for text and handwriting.

A `Task` knows its data and its loss; the `Trainer` owns everything else: optimizer, truncated
BPTT state carrying, clipping, weight noise, periodic validation, lr decay on plateau,
best-model keeping, progress bar, metrics.jsonl, the loss-curve PNG and exact resume.

Exact resume: batch k of the run is fully determined by (epoch, index) and the RNG state;
checkpoints store the step, the carried hidden state, optimizer and RNG state, so a resumed
run continues with the very numbers an uninterrupted one would have produced. What a
checkpoint holds and how it is checked on loading: `genseq.train.state`; metrics.jsonl:
`genseq.train.metrics`; SIGTERM: `genseq.train.signals`.

Data parallel (`genseq.train.distributed`, torchrun + `--distributed`): when a process group
is up, the model is wrapped in DistributedDataParallel and the task is told its shard
(`task.shard(rank, world)`: its rows of every global batch, loss scaled so that the averaged
gradient is the single-process one). The logged loss is summed over ranks (exact global mean);
rank 0 takes the time-based decisions (checkpoint, --minutes) for all; only rank 0 writes
files. Evaluation runs on every rank over the whole validation set (identical models, so
identical metrics and lr decisions, no communication); a crash or Ctrl-C under DDP keeps the
last periodic checkpoint (the final save needs every rank).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from genseq.errors import GenseqError
from genseq.nn import precision
from genseq.train import checkpoint as ckpt
from genseq.train import distributed as ddp
from genseq.train import guard, state
from genseq.train.config import Carry, Task, TrainConfig
from genseq.train.metrics import append_metrics
from genseq.train.noisy import adaptive_noise, noisy_backward
from genseq.train.optim import make_optimizer
from genseq.train.signals import stop_on_sigterm
from genseq.train.validate import check_train_config

__all__ = ["Carry", "TrainConfig", "Trainer", "stop_on_sigterm"]  # importable from here


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        out_dir: str | Path,
        extra_config: dict[str, Any] | None = None,
        progress: bool = True,
    ):
        check_train_config(cfg)
        if cfg.steps <= 0 and cfg.epochs <= 0 and cfg.minutes <= 0:
            raise GenseqError("give a limit: --steps, --epochs or --minutes")
        self.model, self.task, self.cfg = model, task, cfg
        self.out = Path(out_dir)
        self.extra = extra_config or {}
        self.progress = progress
        self.rank, self.world = ddp.rank_world()
        self.main = self.rank == 0  # the only rank that writes
        self.net = model  # what the task runs: the model, or its DDP wrapper
        if self.world > 1:
            if not hasattr(task, "shard"):
                raise GenseqError(f"{type(task).__name__} cannot be sharded over processes")
            task.shard(self.rank, self.world)
        torch.manual_seed(cfg.seed)
        if self.world > 1:  # after seeding: DDP broadcasts rank 0's weights (equal anyway)
            self.net = ddp.wrap(model)
        self.awn = adaptive_noise(model, cfg, self.world)
        self.opt = make_optimizer(cfg.optimizer, self._params(), cfg.lr, cfg.momentum)
        self.step = 0
        self.carry: Carry = None
        self.best = math.inf
        self.bad_evals = 0
        self.history: list[dict[str, Any]] = []
        self.run_loss = self.run_units = 0.0  # train loss accumulated since the last log line
        self.run_norm = [0.0, 0.0, 0.0]  # and Σ gradient norm (before clipping), steps, clipped
        self.pending_eval = False  # an evaluation was due at `step` but did not finish
        self.on_step = None  # test hook: called with the step number after each update
        self.guard = guard.NumericGuard()  # NaN/inf steps skipped, then rollback (guard.py)

    def _params(self) -> list[nn.Parameter]:
        """What the optimizer updates: the model, and adaptive noise's ln σ."""
        return list(self.model.parameters()) + list(self.awn.parameters() if self.awn else [])

    # ---- checkpoints --------------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.safetensors"

    def save_checkpoint(self) -> None:
        """Every rank must call it under DDP (the carries and RNG states are gathered);
        rank 0 writes (genseq.train.state)."""
        state.save_state(self)

    def resume(self, lr: float | None = None) -> None:
        """Continue the run saved in `out`; `lr` (an explicit --lr) replaces its current rate,
        which is then the rate later plateau decays start from."""
        try:
            state.load_state(self, lr)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            msg = str(e).strip().splitlines()[-1:] or [type(e).__name__]
            raise GenseqError(f"{self.ckpt_path} does not fit this run: {msg[0]:.200}") from None

    # ---- metrics ------------------------------------------------------------------------------
    @property
    def metrics_path(self) -> Path:
        return self.out / "metrics.jsonl"

    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)  # on every rank: decisions read the history
        if self.main:
            append_metrics(self.metrics_path, record)

    def plot(self) -> None:
        if not self.main:
            return
        from genseq.train.plot import plot_curves

        plot_curves(self.history, self.out / "loss.png", self.task.primary)

    # ---- the loop -----------------------------------------------------------------------------
    def _autocast(self):
        return precision.autocast(self.cfg.precision, precision.model_device(self.model))

    def _record(self) -> dict[str, Any]:
        return {"step": self.step, "precision": self.cfg.precision}

    def _lr(self) -> float:
        return self.opt.param_groups[0]["lr"]

    def _limit(self, nb: int) -> int:
        lim = []
        if self.cfg.steps > 0:
            lim.append(self.cfg.steps)
        if self.cfg.epochs > 0:
            lim.append(math.ceil(self.cfg.epochs * nb))
        return min(lim) if lim else 0

    def train_step(self, epoch: int, i: int) -> tuple[float, float]:
        """One update; all or nothing: if it raises (Ctrl-C in backward, divergence), the
        carried state and the RNG are as before it, so the checkpoint saved then resumes
        exactly at this step."""
        rng, carry = torch.get_rng_state(), self.carry
        try:
            return self._train_step(epoch, i)
        except BaseException:
            torch.set_rng_state(rng)
            self.carry = carry
            raise

    def _train_step(self, epoch: int, i: int) -> tuple[float, float]:
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        value, units, carry = noisy_backward(  # under DDP: gradients averaged over the ranks
            self.task,
            self.net,
            self.model,
            (epoch, i),
            self.carry,
            self.cfg.weight_noise,
            self.cfg.noise_groups,
            self.awn,
            self._autocast,
        )
        if self.awn is not None:  # the description length's complexity term
            self.awn.add_grads(self.model, self.task.complexity_weight())
        if self.world > 1:  # the global batch's mean: Σ value·units / Σ units over ranks
            total, units = ddp.all_sum([value * units, units])
            value = total / units if units > 0 else 0.0
        norm = guard.grad_norm(self.model, self.cfg.clip)  # clips when clip > 0
        if self.guard.check(value, norm):  # NaN/inf loss or gradient: no update (guard.py)
            return 0.0, 0.0
        self.opt.step()
        self.carry = None if carry is None else {k: v.detach() for k, v in carry.items()}  # TBPTT
        return value, units

    def evaluate(self) -> dict[str, float]:
        self.pending_eval = True  # cleared when done: a checkpoint taken meanwhile redoes it
        self.model.eval()
        with torch.no_grad(), self._autocast():
            m = self.task.evaluate(self.model)
        primary = m[self.task.primary]
        improved = primary < self.best
        if improved:
            self.best, self.bad_evals = primary, 0
            if self.main:
                ckpt.save_model(self.out, self.model, {**self.extra, **self._record(), "valid": m})
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.cfg.patience:
                self.bad_evals = 0
                for g in self.opt.param_groups:
                    g["lr"] = max(g["lr"] * self.cfg.lr_decay, self.cfg.min_lr)
        self._log({"step": self.step, **{f"valid_{k}": v for k, v in m.items()}, "lr": self._lr()})
        self.pending_eval = False
        self.plot()
        return m

    def fit(self, resume: bool = False, lr: float | None = None) -> dict[str, Any]:
        """Train until a limit; `resume` continues the run in `out`, `lr` (resume only)
        replaces its learning rate."""
        nb = self._start(resume, lr)
        limit = self._limit(nb)
        t0 = time.time()
        deadline = t0 + self.cfg.minutes * 60 if self.cfg.minutes > 0 else math.inf
        bar = tqdm(
            total=limit or None,
            initial=self.step,
            disable=not (self.progress and self.main),
            unit="step",
            dynamic_ncols=True,
            mininterval=1.0,
        )
        interrupted = failed = terminated = False
        try:
            with stop_on_sigterm() as term:
                terminated = self._loop(nb, limit, t0, deadline, bar, term)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            failed = True
            raise
        finally:
            bar.close()
            if self.world == 1 or not (interrupted or failed):
                self.save_checkpoint()  # nothing lost on Ctrl-C or a crash (single process)
        if interrupted or terminated:  # SIGTERM: every rank saved the checkpoint above
            raise KeyboardInterrupt
        self._finish()
        return {"step": self.step, "best": self.best, "minutes": (time.time() - t0) / 60}

    def _start(self, resume: bool, lr: float | None) -> int:
        """Resume (or start afresh) in `out`; returns the number of batches per epoch."""
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file where a folder of --out should be
            raise GenseqError(f"cannot make the run directory {self.out} ({e.strerror})") from None
        if self.main:  # temporary files of writes cut short by a kill (atomic_write)
            for stale in self.out.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        if resume:
            if not self.ckpt_path.is_file():
                raise GenseqError(f"nothing to resume: {self.ckpt_path} does not exist")
            self.resume(lr)
        elif self.main:  # a new run: no stale log, no stale checkpoint to roll back to
            self.metrics_path.unlink(missing_ok=True)
            self.ckpt_path.unlink(missing_ok=True)
        nb = self.task.num_batches()
        if nb <= 0:
            raise GenseqError("the training data is too small for one batch")
        if self.pending_eval:  # interrupted while validating: validate first, as it would have
            self.evaluate()
        return nb

    def _loop(
        self, nb: int, limit: int, t0: float, deadline: float, bar: tqdm, term: list[bool]
    ) -> bool:
        """Updates until the step limit, the deadline or SIGTERM (then returns True), with
        logging, validation and periodic checkpoints."""
        last_ckpt = t0
        win = [0.0, time.time()]  # units since the last log line, and when it was written
        stop = terminated = False
        while (limit == 0 or self.step < limit) and not (stop or terminated):
            epoch, i = divmod(self.step, nb)
            if i == 0:
                self.carry = None  # a new epoch starts its streams from a zero state
            loss, units = self.train_step(epoch, i)
            self.step += 1
            if self.guard.skipped and self.guard.after_skip(self):  # rolled back
                continue
            self.run_loss += loss * units
            self.run_units += units
            self._count_norm()
            win[0] += units
            log = self.step % self.cfg.log_every == 0 or self.step == limit
            if log and self.run_units > 0:  # (0: only skipped steps since the last)
                self._log_train(nb, win, t0, bar)
            bar.update(1)
            if self.step % self.cfg.eval_every == 0:
                self.evaluate()
            save = time.time() - last_ckpt >= self.cfg.checkpoint_every
            stop = time.time() >= deadline
            terminated = term[0]
            if self.world > 1:  # rank 0's clock (and signal) decides for all
                save, stop, terminated = ddp.broadcast_flags([save, stop, terminated])
            if save:
                self.save_checkpoint()
                last_ckpt = time.time()
            if self.on_step is not None:
                self.on_step(self.step)
        return terminated

    def _count_norm(self) -> None:
        """The update's global gradient norm (before clipping) into the log window."""
        norm = self.guard.last[1]
        self.run_norm[0] += norm
        self.run_norm[1] += 1
        self.run_norm[2] += float(self.cfg.clip > 0 and norm > self.cfg.clip)

    def _norm_figures(self) -> dict[str, float]:
        """grad_norm: the window's mean gradient norm before clipping; clipped: the share of
        its updates that the global-norm clip rescaled (with --clip only)."""
        total, steps, clipped = self.run_norm
        if steps == 0:
            return {}
        out = {"grad_norm": total / steps}
        return {**out, "clipped": clipped / steps} if self.cfg.clip > 0 else out

    def _log_train(self, nb: int, win: list[float], t0: float, bar: tqdm) -> None:
        """A metrics.jsonl line and the progress bar's figures for the updates since the last
        line (win: their units and start time); then a new window."""
        dt = max(time.time() - win[1], 1e-9)
        mean = self.run_loss / self.run_units
        shown = self.task.display(mean)
        rec = {
            "step": self.step,
            "epoch": self.step / nb,
            "train_loss": mean,
            **{f"train_{k}": v for k, v in shown.items()},
            f"{self.task.unit}s_per_s": win[0] / dt,
            "lr": self._lr(),
            "precision": self.cfg.precision,
            "time": time.time() - t0,
            **self._norm_figures(),
            **(self.awn.summary() if self.awn is not None else {}),
        }
        self._log(rec)
        bar.set_postfix(
            loss=f"{mean:.3f}",
            **{k: f"{v:.3f}" for k, v in shown.items()},
            **{f"{self.task.unit}/s": f"{win[0] / dt:,.0f}"},
        )
        self.run_loss = self.run_units = 0.0
        self.run_norm = [0.0, 0.0, 0.0]
        win[0], win[1] = 0.0, time.time()

    def _finish(self) -> None:
        """The last validation (unless the last update had one) and the model files."""
        if not self.history or "valid_" + self.task.primary not in self.history[-1]:
            self.evaluate()
            self.save_checkpoint()  # its best / lr decisions belong to the run
        if self.main and not (self.out / "model.safetensors").is_file():  # never improved: last
            ckpt.save_model(self.out, self.model, {**self.extra, **self._record()})
        ddp.barrier()  # every file is written when fit returns, on every rank
