"""Train the synthesis network on a CUDA GPU with bf16 autocast for N minutes; print points/s.

    python scripts/gpu_train_synth.py --data CACHE.npz --out RUN_DIR --minutes 5 \
        [--init MODEL_DIR] [--batch-size 32] [--lr 1e-4] [--precision bf16] [--chunk-len 0]

--init: a run directory (model.safetensors + config.json, e.g. runs/synth-3x400) whose weights
and alphabet training starts from; without it a new 3 x 400 net. The run directory is a normal
genseq run (checkpoint, metrics.jsonl, model.safetensors + config.json), resumable on CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from genseq.cli.hand_train import _datasets
from genseq.hand.alphabet import Alphabet
from genseq.hand.data import HandBatches
from genseq.hand.model import SynthesisConfig, SynthesisNet
from genseq.hand.task import HandTask
from genseq.nn.precision import resolve
from genseq.train.checkpoint import load_model
from genseq.train.trainer import TrainConfig, Trainer


class DeviceBatches:
    """A HandBatches whose batches are moved to `device` (every other attribute delegated)."""

    def __init__(self, inner: HandBatches, device: torch.device):
        self.inner, self.device = inner, device

    def __len__(self) -> int:
        return len(self.inner)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def batch(self, epoch: int, i: int) -> dict:
        b = self.inner.batch(epoch, i)
        return {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                for k, v in b.items()}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--init", default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--precision", default="bf16", choices=["auto", "fp32", "bf16"])
    p.add_argument("--chunk-len", type=int, default=0)
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--device", default="cuda", help="cpu: a dry run of this script's logic")
    a = p.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_train_synth: no CUDA device (torch {torch.__version__})", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if a.init:
        model, cfg = load_model(Path(a.init))
        train, valid = _datasets(a.data, "synth", Alphabet.from_json(cfg["alphabet"]))
    else:
        train, valid = _datasets(a.data, "synth", "full")
        model = SynthesisNet(SynthesisConfig(alphabet_size=train.alphabet.size))
    model.to(dev).train()
    prec = resolve(a.precision, dev)
    tcfg = TrainConfig(lr=a.lr, minutes=a.minutes, eval_every=10**9, checkpoint_every=120.0,
                       precision=prec, log_every=10)  # fmt: skip
    batches = DeviceBatches(HandBatches(train, a.batch_size, seed=0), dev)
    vbatches = DeviceBatches(HandBatches(valid, a.batch_size, seed=0, shuffle=False), dev)
    task = HandTask(batches, vbatches, chunk_len=a.chunk_len, eval_batches=a.eval_batches)
    extra = {"norm": train.stats.to_json(), "alphabet": train.alphabet.to_json(),
             "batch_size": a.batch_size, "crop_len": 0, "chunk_len": a.chunk_len,
             "data": str(a.data), "device": name}  # fmt: skip
    print(f"gpu_train_synth: {name}, torch {torch.__version__}, "
          f"precision {prec}, {len(train):,} lines, {a.minutes} min", flush=True)  # fmt: skip
    t0 = time.time()
    res = Trainer(model, task, tcfg, a.out, extra, progress=False).fit()
    logs = [json.loads(x) for x in (Path(a.out) / "metrics.jsonl").read_text().splitlines()]
    rates = [r["points_per_s"] for r in logs if "points_per_s" in r][1:]  # first: warm-up
    valid_nats = [r["valid_nats"] for r in logs if "valid_nats" in r]
    print(json.dumps({"updates": res["step"], "seconds": round(time.time() - t0, 1),
                      "points_per_s": round(sum(rates) / len(rates), 1) if rates else None,
                      "valid_nats": valid_nats[-1] if valid_nats else None,
                      "precision": prec, "out": str(a.out)}), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
