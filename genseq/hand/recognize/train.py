"""Train a recognizer with the one `Trainer` (library side of `genseq hand recognizer-train`)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from genseq.hand.data import HandBatches, HandCache, HandDataset
from genseq.hand.recognize.model import Recognizer, RecognizerConfig
from genseq.hand.recognize.task import RecogTask
from genseq.train.checkpoint import checkpoint_config
from genseq.train.trainer import TrainConfig, Trainer


def train_recognizer(
    cache: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    model_cfg: dict | None = None,
    batch_size: int = 32,
    eval_batches: int = 8,
    resume: bool = False,
    lr: float | None = None,
    progress: bool = True,
) -> dict:
    """Train (or, with resume, continue) a recognizer on the paper's training lines of `cache`,
    validating on testset_v (its first `eval_batches` batches; 0 = all)."""
    c = HandCache.load(cache)
    train = HandDataset(c, "train")
    valid = HandDataset(c, "valid", alphabet=train.alphabet)
    if resume:
        meta = checkpoint_config(Path(out) / "checkpoint.safetensors", ("recog",))
        model = Recognizer.from_config(meta["config"]["model"])
        batch_size, cfg.seed = meta["config"]["batch_size"], meta["train"]["seed"]
    else:
        model = Recognizer(RecognizerConfig(alphabet_size=len(train.alphabet), **(model_cfg or {})))
    task = RecogTask(
        HandBatches(train, batch_size, seed=cfg.seed),
        HandBatches(valid, 32, seed=0),  # shuffled once: eval_batches spread over lengths
        train.alphabet,
        eval_batches,
    )
    extra = {
        "norm": train.stats.to_json(),
        "alphabet": train.alphabet.to_json(),
        "batch_size": batch_size,
        "data": str(cache),
    }
    n = sum(p.numel() for p in model.parameters())
    print(
        f"genseq: recognizer {asdict(model.cfg)}: {n:,} weights; {len(train):,} training / "
        f"{len(valid):,} validation lines; {task.num_batches():,} updates per epoch",
        file=sys.stderr,
    )
    return Trainer(model, task, cfg, out, extra, progress=progress).fit(resume=resume, lr=lr)
