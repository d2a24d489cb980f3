"""Data parallel training (genseq.train.distributed): 2 gloo processes on this machine take the
same steps as one process on the same global batch — weights, logged losses, TBPTT carries,
uneven shards, and resume across the two process counts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genseq.hand.task import HandTask
from genseq.text.task import TextTask
from genseq.train import distributed
from genseq.train.checkpoint import load_tensors
from genseq.train.trainer import TrainConfig, Trainer
from tests.hand.test_task import FakeBatches
from tests.hand.test_task import make as make_hand
from tests.train.test_trainer import make_corpus, make_model

REPO = Path(__file__).resolve().parents[2]


def test_shard_slice_covers_rows_in_order():
    for n in range(0, 9):
        for world in (1, 2, 3, 4):
            parts = [distributed.shard_slice(n, r, world) for r in range(world)]
            assert [i for s in parts for i in range(n)[s]] == list(range(n))
            sizes = [s.stop - s.start for s in parts]
            assert max(sizes) - min(sizes) <= 1
    assert distributed.rank_world() == (0, 1)  # no process group in this process


def test_distributed_without_torchrun_is_a_user_error(monkeypatch):
    from genseq.errors import GenseqError

    for k in distributed.ENV:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(GenseqError, match="torchrun"):
        distributed.init()


# ---- the runs: the same code in one process and in each of two ----------------------------


def _fit(tr: Trainer, resume: bool, stop_at: int | None) -> Trainer:
    def interrupt(step: int) -> None:
        if step == stop_at:
            raise KeyboardInterrupt

    tr.on_step = interrupt
    try:
        tr.fit(resume=resume)
    except KeyboardInterrupt:
        assert stop_at is not None
    return tr


def text_run(
    out: Path, steps: int, resume: bool = False, stop_at: int | None = None, **train
) -> Trainer:
    corpus = make_corpus()
    model = make_model(len(corpus.vocab))  # no dropout: ranks keep one RNG stream
    cfg = TrainConfig(**{"steps": steps, "eval_every": 4, "log_every": 2, "checkpoint_every": 0,
                         "lr": 3e-3, "weight_noise": 0.01, **train})  # fmt: skip
    task = TextTask(corpus, batch_size=4, seq_len=16, eval_symbols=200)
    tr = Trainer(model, task, cfg, out, {"vocab": corpus.vocab.to_json()}, progress=False)
    return _fit(tr, resume, stop_at)


def hand_run(out: Path, steps: int, resume: bool = False, stop_at: int | None = None) -> Trainer:
    model = make_hand("synth")
    # 3 lines a batch: shards of 2 and 1 lines; TBPTT chunks carry the state (and κ, w)
    task = HandTask(FakeBatches(n=2, B=3, T=9), FakeBatches(n=1, B=3, T=9, seed=5),
                    chunk_len=4, chunks_per_batch=3)  # fmt: skip
    cfg = TrainConfig(steps=steps, eval_every=4, log_every=1, checkpoint_every=0, lr=1e-2)
    return _fit(Trainer(model, task, cfg, out, {}, progress=False), resume, stop_at)


# plain SGD without clipping: a wrong gradient scale (e.g. a sum where DDP needs a mean)
# shows in the weights at once; Adam's normalisation and a norm clip would hide it
SGD = {"optimizer": "sgd", "momentum": 0.0, "clip": 0.0, "lr": 0.5, "weight_noise": 0.0}


def _worker(rank: int, world: int, port: int, tmp: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    distributed.init()
    try:
        t = Path(tmp)
        text_run(t / "text", 6)
        text_run(t / "text-sgd", 6, **SGD)
        text_run(t / "text-cut", 6, stop_at=3)  # a Ctrl-C: the step-3 checkpoint stands
        if rank == 0:
            shutil.copytree(t / "text-cut", t / "text-cut-copy")
        distributed.barrier()
        text_run(t / "text-cut", 6, resume=True)
        hand_run(t / "hand", 5)
        hand_run(t / "hand-cut", 5, stop_at=2)  # mid-batch: the carry is in the checkpoint
        hand_run(t / "hand-cut", 5, resume=True)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tensors(out: Path) -> dict[str, torch.Tensor]:
    tensors, _ = load_tensors(out / "checkpoint.safetensors")
    return {k: v for k, v in tensors.items() if k.startswith(("model.", "carry."))}


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _assert_same_run(a: Path, b: Path) -> None:
    """Same weights and TBPTT carry in the checkpoint, same logged train/valid metrics."""
    wa, wb = _tensors(a), _tensors(b)
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=2e-5, rtol=1e-4, msg=k)
    ra, rb = _records(a), _records(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb, strict=True):
        keys = [k for k in x if k.startswith(("train_", "valid_"))]
        assert keys == [k for k in y if k.startswith(("train_", "valid_"))]
        for k in keys:
            assert x[k] == pytest.approx(y[k], rel=1e-5, abs=1e-6), (x["step"], k)


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), str(tmp)), nprocs=2, join=True)
    return tmp


def test_two_processes_equal_one_on_the_global_batch(two_process_runs, tmp_path):
    text_run(tmp_path / "text", 6)
    _assert_same_run(two_process_runs / "text", tmp_path / "text")
    text_run(tmp_path / "text-sgd", 6, **SGD)
    _assert_same_run(two_process_runs / "text-sgd", tmp_path / "text-sgd")
    hand_run(tmp_path / "hand", 5)
    _assert_same_run(two_process_runs / "hand", tmp_path / "hand")
    # the checkpoint holds the global batch's carry, not rank 0's rows only
    carry = _tensors(two_process_runs / "hand")
    assert carry["carry.h1"].shape[0] == 3 and carry["carry.h"].shape[1] == 3


def test_resume_under_ddp_is_exact(two_process_runs):
    _, meta = load_tensors(two_process_runs / "text-cut-copy" / "checkpoint.safetensors")
    assert meta["step"] == 3 and meta["world"] == 2
    _assert_same_run(two_process_runs / "text-cut", two_process_runs / "text")
    _assert_same_run(two_process_runs / "hand-cut", two_process_runs / "hand")


def test_one_process_resumes_a_two_process_checkpoint(two_process_runs, tmp_path):
    shutil.copytree(two_process_runs / "text-cut-copy", tmp_path / "mixed")
    text_run(tmp_path / "mixed", 6, resume=True)
    text_run(tmp_path / "one", 6)
    _assert_same_run(tmp_path / "mixed", tmp_path / "one")


def test_torchrun_cli(tmp_path):
    """`torchrun --nproc_per_node=2 -m genseq text train ... --distributed` == one process."""
    from genseq.cli import main

    data = tmp_path / "toy.txt"
    data.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 60, encoding="utf-8")
    args = ["text", "train", "--data", str(data), "--hidden", "16", "--steps", "3",
            "--eval-every", "2", "--batch-size", "4", "--seq-len", "20", "--no-progress",
            "--threads", "1"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "genseq", *args, "--out", str(tmp_path / "two"), "--distributed"]  # fmt: skip
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    _assert_same_run(tmp_path / "two", tmp_path / "one")
