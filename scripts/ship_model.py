"""Copy a trained handwriting run into the package as a shipped model.

    python scripts/ship_model.py RUN_DIR NAME --cache .cache/iam.npz --record notes.json [--full]

Writes `genseq/pretrained/NAME.safetensors` (fp16) and `NAME.json` through
`genseq.train.pretrained.export_model`: the run's config.json plus a "record" (the
hand-written facts in --record: commands, hardware, notes;
plus the step, the training hours summed over the run's segments in metrics.jsonl, the
commit, and validation figures measured here on the *shipped* fp16-rounded weights: the
first 100 testset_v lines always (the tests re-check this figure), all 1,438 with --full).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from genseq.hand.data import HandBatches, HandCache, HandDataset
from genseq.hand.sample import load_hand_model
from genseq.hand.task import evaluate
from genseq.train.checkpoint import atomic_write_text
from genseq.train.pretrained import export_model

ROOT = Path(__file__).resolve().parents[1]
SUBSET = 100  # the first N testset_v lines (dataset order) the tests evaluate


def training_hours(metrics: Path) -> tuple[float, int]:
    """Hours of training summed over resumed segments (each restarts `time` at 0), and the
    last step logged."""
    total = seg_max = prev = 0.0
    step = 0
    for line in metrics.read_text().splitlines():
        r = json.loads(line)
        if "time" not in r:
            continue
        if r["time"] < prev:  # a new segment
            total += seg_max
            seg_max = 0.0
        prev = seg_max = max(seg_max, r["time"])
        step = max(step, int(r.get("step", 0)))
    return (total + seg_max) / 3600, step


def valid_figures(model_dir: Path, cache: Path, lines: int = 0) -> dict[str, float]:
    m = load_hand_model(model_dir)
    ds = HandDataset(
        HandCache.load(cache), "valid", alphabet=m.alphabet or "full",
        require_text=m.kind == "synth",
    )
    if lines:
        ds.positions, ds.lengths = ds.positions[:lines], ds.lengths[:lines]
        ds.codes = ds.codes[:lines]
    ds.stats = m.stats
    return evaluate(m.net, HandBatches(ds, 32, shuffle=False))


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--record", type=Path, required=True, help="JSON: commands, hardware, notes")
    ap.add_argument("--full", action="store_true", help="also evaluate all testset_v lines")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = json.loads((a.run / "config.json").read_text())
    hours, step = training_hours(a.run / "metrics.jsonl")
    record = json.loads(a.record.read_text())
    record.update(
        updates=cfg.get("step", step),  # the best-on-validation model's step
        updates_run=step,
        train_hours=round(hours, 2),
        commit=commit(),
    )
    _, js = export_model(a.run, a.name, record)  # fp16 storage (genseq.train.pretrained)
    # evaluate what ships: the fp16-rounded weights, loaded back by name as fp32
    record["valid_first100"] = valid_figures(Path(a.name), a.cache, SUBSET)
    if a.full:
        record["valid"] = valid_figures(Path(a.name), a.cache)
    atomic_write_text(js, json.dumps({**cfg, "record": record}, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
