"""The training flags of `genseq text train` and `genseq hand train`, and the one training
run both commands end in (`run_training`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genseq.errors import GenseqError
from genseq.nn.precision import PRECISIONS, resolve
from genseq.nn.util import count_parameters
from genseq.train.checkpoint import read_config
from genseq.train.config import Task, TrainConfig
from genseq.train.distributed import is_main
from genseq.train.trainer import Trainer


def add_train_flags(p: argparse.ArgumentParser, lr: float = 1e-3) -> None:
    """Training flags shared by `text train` and `hand train`."""
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop-graves", "sgd"])
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"learning rate (default {lr}); with --resume, replaces the run's current rate",
    )
    p.set_defaults(lr_default=lr)
    g.add_argument("--momentum", type=float, default=0.9, help="for sgd and rmsprop-graves")
    g.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip, 0 = off")
    g.add_argument(
        "--lstm-clip",
        type=float,
        default=0.0,
        help="Graves' clip of LSTM pre-activation derivatives to [-v, v] "
        "(slower: disables the fused kernel); 0 = off",
    )
    add_noise_flags(g)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--steps", type=int, default=0, help="stop after N updates")
    g.add_argument("--epochs", type=float, default=0.0, help="stop after N epochs")
    g.add_argument("--minutes", type=float, default=0.0, help="stop after N minutes")
    g.add_argument("--eval-every", type=int, default=500, help="updates between validations")
    g.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds")
    g.add_argument("--lr-decay", type=float, default=0.5, help="on a validation plateau")
    g.add_argument("--patience", type=int, default=2)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    add_precision_flag(g, "auto")
    g.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    g.add_argument(
        "--init-from",
        metavar="NAME|DIR",
        default=None,
        help="start a new run (fresh optimizer, step 0) from the weights of a shipped model or "
        "a run directory; its kind and model config must match the model flags",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--distributed",
        action="store_true",
        help="data parallel over the processes of `torchrun --nproc_per_node=N -m genseq ...` "
        "(DDP: gloo on CPU, nccl on GPU); --batch-size stays the global batch",
    )


def add_noise_flags(g: argparse._ActionsContainer) -> None:
    """Dropout and weight noise (§3)."""
    g.add_argument("--dropout", type=float, default=0.0)
    g.add_argument("--weight-noise", type=float, default=0.0, help="std of weight noise (§3)")
    g.add_argument(
        "--noise-groups",
        type=int,
        default=1,
        help="draw weight noise for each of N groups of a batch's sequences (N = --batch-size: "
        "per sequence, as the paper; 1: one draw per batch, cheapest)",
    )
    g.add_argument(
        "--adaptive-noise",
        type=float,
        default=0.0,
        metavar="SIGMA0",
        help="adaptive weight noise (Graves 2011, the paper's best rows) with every σ "
        "starting at SIGMA0 (paper: 0.075); 0 = off",
    )


def add_precision_flag(g: argparse._ActionsContainer, default: str = "fp32") -> None:
    """--precision (genseq.nn.precision): also for the eval commands."""
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help="bf16: GEMMs in bf16, fp32 weights and losses; auto: bf16 on CUDA or a CPU with "
        "AMX / AVX512-BF16, else fp32",
    )


def train_config(a: argparse.Namespace) -> TrainConfig:
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if getattr(a, "distributed", False):
        from genseq.train.distributed import init

        init()  # before the data and the model: every rank builds the same ones
    torch.manual_seed(a.seed)  # the model's initial weights follow --seed too
    lr = a.lr if a.lr is not None else a.lr_default
    precision = resolve(a.precision)  # the CLI trains on the CPU
    return TrainConfig.from_dict({**vars(a), "lr": lr, "precision": precision})  # flag = field


def init_source(a: argparse.Namespace, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The config of --init-from's model (checked to be of one of `kinds`), or None."""
    if a.init_from is None:
        return None
    if a.resume:
        raise GenseqError("--init-from starts a new run and --resume continues one: not both")
    cfg = read_config(a.init_from)
    if cfg["kind"] not in kinds:
        raise GenseqError(
            f"--init-from {a.init_from} holds a {cfg['kind']} model, not {' or '.join(kinds)}"
        )
    return cfg


def saved_ints(saved: dict[str, Any], where: str | Path, **low: int) -> list[int]:
    """A resumed run's integer settings from its checkpoint's config, each >= its `low`
    (e.g. seq_len=1): one clear error for one missing or of another type or range."""
    out = []
    for key, least in low.items():
        if key not in saved:
            raise GenseqError(f"the checkpoint in {where} lacks {key}")
        v = saved[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise GenseqError(
                f"the checkpoint in {where} has {key} = {v!r}: not an integer >= {least}"
            )
        out.append(v)
    return out


def say(*args: Any) -> None:
    """A line on stderr, from one process only under torchrun."""
    if is_main():
        print(*args, file=sys.stderr)


def run_training(
    a: argparse.Namespace,
    cfg: TrainConfig,
    model: nn.Module,
    task: Task,
    extra: dict[str, Any],
    about: str,
    result: Callable[[dict[str, Any]], str],
    resumed: dict[str, Any] | None = None,
) -> int:
    """Train `model` on `task` into --out (starting from --init-from's weights, or resuming
    the run there, whose saved config is `resumed`); `extra` goes into config.json; `about`
    describes the data, `result` the outcome."""
    if resumed is not None and "init_from" in resumed:  # still a run that started from it
        extra = {**extra, "init_from": resumed["init_from"]}
    if a.init_from is not None:
        from genseq.train.checkpoint import init_weights

        init_weights(model, a.init_from)
        extra = {**extra, "init_from": str(a.init_from)}
    say(
        f"genseq: {about}; model {count_parameters(model):,} weights; "
        f"{task.num_batches():,} updates per epoch"
        + (f"; starting from {a.init_from}" if a.init_from else "")
    )
    trainer = Trainer(model, task, cfg, Path(a.out), extra, progress=not a.no_progress)
    res = trainer.fit(resume=a.resume, lr=a.lr)
    say(f"genseq: {res['step']} updates, {result(res)}; model in {a.out}")
    return 0
