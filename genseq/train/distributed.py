"""Data-parallel training over processes: `torchrun --nproc_per_node=N -m genseq ... --distributed`.

Each process (rank) holds the whole model; `DistributedDataParallel` averages the gradients
after every backward (gloo for CPU tensors, nccl for CUDA ones). The data is sharded per global
batch: every rank builds the very batch a single process would, takes its slice of the rows
(`shard`: text streams, handwriting lines) and scales its loss so that the averaged gradient is
the gradient of the single-process loss on the whole batch (the task's `shard(rank, world)`).
So N processes with batch B take the same steps as one process with batch B, up to the order
of floating-point sums. Evaluation runs on every rank over the whole validation set (the
models are identical, so are the metrics and the lr-decay decisions; no rank waits on another).
Only rank 0 writes (checkpoints, metrics, best model, progress bar); the trainer gathers every
rank's TBPTT carry and RNG state into rank 0's checkpoint, so resume stays exact (also with
another N, as long as the ranks' RNG streams agree: no dropout, or shards of equal size).

Rendezvous comes from torchrun's environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from genseq.errors import GenseqError

ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def init(timeout_minutes: float = 30.0) -> tuple[int, int]:
    """Join the process group torchrun describes; returns (rank, world size)."""
    if dist.is_initialized():
        return rank_world()
    missing = [k for k in ENV if k not in os.environ]
    if missing:
        raise GenseqError(
            f"--distributed needs torchrun's environment ({', '.join(missing)} unset): "
            "run `torchrun --nproc_per_node=N -m genseq ... --distributed`"
        )
    if not dist.is_available():
        raise GenseqError("this torch build has no torch.distributed")
    backend = "gloo"
    if torch.cuda.is_available() and dist.is_nccl_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "cpu:gloo,cuda:nccl"  # each tensor's device picks its backend
    dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    return rank_world()


def rank_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_world()[0] == 0


def shard_slice(n: int, rank: int, world: int) -> slice:
    """Rows of rank `rank` among n rows: contiguous, sizes differ by at most one (first ranks
    get the extra rows), as `torch.tensor_split`."""
    q, r = divmod(n, world)
    start = rank * q + min(rank, r)
    return slice(start, start + q + (1 if rank < r else 0))


def shard_rows(t: Tensor, dim: int = 0) -> Tensor:
    """This rank's rows of t along `dim` (all of t without a process group)."""
    rank, world = rank_world()
    s = shard_slice(t.shape[dim], rank, world)
    return t.narrow(dim, s.start, s.stop - s.start)


def carry_batch_dim(t: Tensor) -> int:
    """The batch dimension of a TBPTT carry tensor: (layers, B, H) -> 1, (B, ...) -> 0."""
    return 1 if t.dim() == 3 else 0


class DDP(DistributedDataParallel):
    """DistributedDataParallel that also answers the wrapped model's attributes (`kind`,
    `n_mixtures`, ...), so tasks can use it as the model itself."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(model: nn.Module) -> nn.Module:
    p = next(model.parameters())
    ids = [p.device.index] if p.device.type == "cuda" else None
    return DDP(model, device_ids=ids)  # genseq models have no buffers to sync


def all_sum(values: list[float]) -> list[float]:
    """Element-wise sum over ranks (float64)."""
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_flags(flags: list[bool]) -> list[bool]:
    """Rank 0's flags on every rank (time-based decisions must be taken together)."""
    t = torch.tensor(flags, dtype=torch.uint8)
    dist.broadcast(t, 0)
    return [bool(v) for v in t.tolist()]


def all_gather(obj: Any) -> list[Any]:
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
