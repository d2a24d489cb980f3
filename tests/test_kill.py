"""Nothing lost: `genseq text train` and `genseq hand train` killed with SIGKILL at random
moments (inside a step, a checkpoint write or a validation: with a checkpoint after every
update and a validation every 3, a good share of the time is spent in each) and resumed
each time end with the very weights and metrics of an uninterrupted run of the same seed.
After every kill the checkpoint on disk is complete and loads, and each resumed run
continues from its step. A full disk or a read-only folder at checkpoint time is one clear
error, and the previous checkpoint survives.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genseq.cli import main
from genseq.train import checkpoint as ckpt
from genseq.train.checkpoint import load_tensors, model_class
from tests.conftest import text_train
from tests.hand.conftest import build_iam

REPO = Path(__file__).resolve().parents[1]
KILLS = 5
STARTUP_S = 300  # a subprocess must have trained one step by then (slow, shared CI machines)
KILL_LOG: list[tuple[str, int, int]] = []  # (command, kills survived, stale temp files)


@pytest.fixture(scope="module")
def text_data(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("kill-text") / "toy.txt"
    p.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 120, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def hand_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kill-hand") / "iamondb"
    build_iam(root, packed=True)
    out = root.parent / "iam.npz"
    argv = ["hand", "prepare", "--iam", str(root), "--out", str(out), "--quiet", "--workers", "1"]
    assert main(argv) == 0
    return out


def text_args(data: Path, out: Path, steps: int) -> list[str]:
    flags = f"--hidden 16 --batch-size 4 --seq-len 20 --steps {steps} --eval-every 3 "
    return text_train(data, out, flags + "--checkpoint-every 0 --seed 3 --dropout 0.1 " + QUIET)


def hand_args(data: Path, out: Path, steps: int) -> list[str]:
    model = "--hidden 16 --layers 2 --mixtures 3 --window 2 --batch-size 2 --chunk-len 40"
    run = f"--steps {steps} --eval-every 3 --checkpoint-every 0 --seed 3"
    return ["hand", "train", "--task", "synth", "--data", str(data), "--out", str(out),
            *f"{model} {run} {QUIET}".split()]  # fmt: skip


QUIET = "--threads 1 --no-progress"


def saved_step(out: Path) -> int:
    """The step of the checkpoint on disk, after checking it is complete: it loads, and the
    model it holds can be rebuilt from its own config and takes its weights."""
    tensors, meta = load_tensors(out / "checkpoint.safetensors")
    cfg = meta["config"]
    model = model_class(cfg["kind"]).from_config(cfg["model"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    assert any(k.startswith("optim.") for k in tensors) and "rng.torch" in tensors
    return int(meta["step"])


def disk_step(out: Path) -> int:
    """The checkpoint's step from its header alone (cheap enough to poll); -1 if none."""
    from safetensors import safe_open

    try:
        with safe_open(str(out / "checkpoint.safetensors"), "pt") as f:
            return int(json.loads(f.metadata()["genseq"])["step"])
    except Exception:  # not written yet
        return -1


def records(out: Path) -> list[dict]:
    """metrics.jsonl; a last line cut by a kill is skipped (the resumed run rewrites it)."""
    out_ = []
    for s in (out / "metrics.jsonl").read_text().splitlines():
        try:
            out_.append(json.loads(s))
        except json.JSONDecodeError:
            pass
    return out_


def same_run(a: Path, b: Path) -> None:
    """Same weights (and optimizer state, carry) in the final checkpoint and the same logged
    train / valid metrics at the same steps as the reference run."""
    ta, ma = load_tensors(a / "checkpoint.safetensors")
    tb, mb = load_tensors(b / "checkpoint.safetensors")
    assert ma["step"] == mb["step"] and ta.keys() == tb.keys()
    for k in ta:
        torch.testing.assert_close(ta[k], tb[k], rtol=1e-5, atol=1e-6, msg=k)
    ra, rb = records(a), records(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb, strict=True):
        keys = sorted(k for k in x if k.startswith(("train_", "valid_")) or k == "lr")
        assert keys == sorted(k for k in y if k.startswith(("train_", "valid_")) or k == "lr")
        for k in keys:
            assert x[k] == pytest.approx(y[k], rel=1e-5, abs=1e-6), (x["step"], k)
    wa = load_tensors(a / "model.safetensors")[0]
    wb = load_tensors(b / "model.safetensors")[0]
    for k in wa:  # the best model kept
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6, msg=k)


def spawn(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "genseq", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_and_resume(name: str, args, data: Path, tmp: Path, steps: int) -> None:
    rng = random.Random(f"{name}-{os.getpid()}-{time.time()}")
    out = tmp / "killed"
    kills, last, cut = 0, 0, 0
    while kills < KILLS:
        resume = (out / "checkpoint.safetensors").is_file()
        p = spawn(args(data, out, steps) + (["--resume"] if resume else []))
        deadline = time.time() + STARTUP_S
        while p.poll() is None and disk_step(out) <= last:  # until it trained a step
            assert time.time() < deadline, "the run did not train a step in time"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))  # a random moment of a step, write or validation
        if p.poll() is not None:
            pytest.fail(f"the run ended before its kill: {p.returncode} {p.stderr.read()}")
        p.send_signal(signal.SIGKILL)
        p.communicate()
        kills += 1
        cut += len(list(out.glob(".*.tmp")))  # this kill landed inside a file write
        step = saved_step(out)  # complete, loads; its run continued from the last one's step
        assert step > last, (step, last)
        last = step
    before = [x for x in records(out) if x["step"] <= last]
    r = subprocess.run(
        [sys.executable, "-m", "genseq", *args(data, out, steps), "--resume"],
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    # continued, not restarted: the log lines up to the checkpoint are the killed runs'
    # own (their timings too), kept as they were; a fresh run would have rewritten them
    assert before and [x for x in records(out) if x["step"] <= last] == before
    assert main(args(data, tmp / "reference", steps)) == 0
    same_run(out, tmp / "reference")
    assert not list(out.glob(".*.tmp"))  # the resumed run removed the cut writes' files
    KILL_LOG.append((name, kills, cut))
    print(f"\n{name}: {kills} SIGKILLs survived, final step {steps}, {cut} inside a write")


@pytest.mark.slow
def test_text_train_survives_sigkill(text_data, tmp_path):
    kill_and_resume("text train", text_args, text_data, tmp_path, 400)


@pytest.mark.slow
def test_hand_train_survives_sigkill(hand_data, tmp_path):
    kill_and_resume("hand train", hand_args, hand_data, tmp_path, 300)


# ---- the disk refuses the checkpoint --------------------------------------------------------


def _fail_on_call(monkeypatch, k: int, fail) -> None:
    """Make the k-th (and every later) checkpoint write fail through `fail(trainer)`."""
    from genseq.train.trainer import Trainer

    real, calls = Trainer.save_checkpoint, {"n": 0}

    def save(self):
        calls["n"] += 1
        if calls["n"] >= k:
            fail(self)
        return real(self)

    monkeypatch.setattr(Trainer, "save_checkpoint", save)


def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [s for s in err.splitlines() if s.startswith("genseq: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def _full_disk(monkeypatch):
    def full(tr):
        def no_space(*a, **k):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(ckpt, "save_file", no_space)

    return full


def _read_only(tr) -> None:
    """The run folder turns read-only (chmod for a user; root needs the immutable flag)."""
    if os.geteuid() != 0:
        os.chmod(tr.out, 0o555)
    elif subprocess.run(["chattr", "+i", str(tr.out)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr +i)")


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    os.chmod(path, 0o755)


@pytest.mark.parametrize("fault", ["full disk", "read-only folder"])
def test_a_refused_checkpoint_is_one_error_and_the_previous_one_survives(
    fault, text_data, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    args = text_args(text_data, out, 12)
    args[args.index("--checkpoint-every") + 1] = "0"
    fail = _full_disk(monkeypatch) if fault == "full disk" else _read_only
    _fail_on_call(monkeypatch, 6, fail)  # checkpoints 1-5 (steps 1-5) are written
    try:
        err = _one_line_error(capsys, args)
        assert "cannot write" in err and "checkpoint.safetensors" in err, err
        assert ("No space left" in err) == (fault == "full disk"), err
        assert saved_step(out) == 5  # the previous checkpoint, whole
    finally:
        _writable(out)
    monkeypatch.undo()
    assert main([*args, "--resume"]) == 0
    assert main(text_args(text_data, tmp_path / "reference", 12)) == 0
    same_run(out, tmp_path / "reference")
    assert not list(out.glob(".*.tmp"))  # the refused writes left nothing behind


def test_resume_after_the_run_ended_changes_nothing(text_data, tmp_path):
    """--resume of a finished run with the same limit: no step taken, same weights."""
    out = tmp_path / "run"
    assert main(text_args(text_data, out, 6)) == 0
    before = load_tensors(out / "checkpoint.safetensors")[0]
    shutil.copy(out / "metrics.jsonl", tmp_path / "m.jsonl")
    assert main([*text_args(text_data, out, 6), "--resume"]) == 0
    after = load_tensors(out / "checkpoint.safetensors")[0]
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("model."))
    assert (out / "metrics.jsonl").read_text() == (tmp_path / "m.jsonl").read_text()
