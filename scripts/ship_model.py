"""Copy a trained run (handwriting or text) into the package as a shipped model.

    python scripts/ship_model.py RUN_DIR NAME --cache .cache/iam.npz --record notes.json [--full]
    python scripts/ship_model.py RUN_DIR NAME --data $GENSEQ_DATA/text/... --record notes.json
        [--format plain] [--dynamic]

Writes `genseq/pretrained/NAME.safetensors` (fp16) and `NAME.json` through
`genseq.train.pretrained.export_model`: the run's config.json plus a "record" (the
hand-written facts in --record: commands, hardware, notes;
plus the step, the training hours summed over the run's segments in metrics.jsonl (and, for a
run started with --init-from, the updates and hours of the model it started from, so the
totals cover the whole history), the commit, and figures measured here on the *shipped*
fp16-rounded weights).
Handwriting: the first 100 testset_v lines always (the tests re-check this figure), all
1,438 with --full. Text: the first 10,000 validation symbols (re-checked by the tests), the
whole validation and test splits (bpc or perplexity, error %), and with --dynamic the test
split under dynamic evaluation, its rate chosen on validation (genseq.text.dynamic). A text
corpus must lie under $GENSEQ_DATA: the record names it relative to that folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from genseq.errors import GenseqError
from genseq.train.checkpoint import atomic_write_text
from genseq.train.pretrained import export_model, locate

ROOT = Path(__file__).resolve().parents[1]
SUBSET = 100  # the first N testset_v lines (dataset order) the tests evaluate
TEXT_SUBSET = 10_000  # the first N validation symbols the tests evaluate


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


def base_record(cfg: dict) -> dict | None:
    """The training the run started from with --init-from (a shipped name or a run directory):
    its updates and hours, read *before* export overwrites a shipped JSON of the same name.
    A run directory counts its own metrics.jsonl; a shipped model its record's totals."""
    src = cfg.get("init_from")
    if not src:
        return None
    files = locate(src)
    base = json.loads(files.config.read_text())
    if files.shipped:
        rec = base.get("record", {})
        updates, hours = int(rec.get("updates", base.get("step", 0))), rec.get("train_hours", 0.0)
    else:
        hours, step = training_hours(files.config.parent / "metrics.jsonl")
        updates = int(base.get("step", step))
    return {"from": str(src), "updates": updates, "train_hours": round(float(hours), 2)}


def valid_figures(model_dir: Path, cache: Path, lines: int = 0) -> dict[str, float]:
    from genseq.hand.data import HandBatches, HandCache, HandDataset
    from genseq.hand.sample import load_hand_model
    from genseq.hand.task import evaluate

    m = load_hand_model(model_dir)
    ds = HandDataset(
        HandCache.load(cache),
        "valid",
        alphabet=m.alphabet or "full",
        require_text=m.kind == "synth",
    )
    if lines:
        ds.positions, ds.lengths = ds.positions[:lines], ds.lengths[:lines]
        ds.codes = ds.codes[:lines]
    ds.stats = m.stats
    return evaluate(m.net, HandBatches(ds, 32, shuffle=False))


def text_figures(
    model: str | Path, data: Path, fmt: str, split: str, symbols: int = 0, dynamic: bool = False
) -> dict:
    """Static (or dynamic, its rate chosen on validation) figures of a text model on a split
    (its first `symbols` when > 0): nats, bpc or ppl, error %, symbols."""
    from genseq.text.corpus import load_corpus
    from genseq.text.dynamic import choose_rate
    from genseq.text.evaluate import evaluate
    from genseq.text.model import load_text_model

    m = load_text_model(model)
    corpus = load_corpus(data, fmt, vocab=m.vocab)
    ids = corpus.split(split)
    ids = ids[:symbols] if symbols > 0 else ids
    level = m.vocab.level
    if not dynamic:
        return evaluate(m.net, ids, level, 16, 100).as_dict()
    c = choose_rate(m.net, corpus.valid, level, symbols=50_000)
    return {**evaluate(m.net, ids, level, 1, 100, True, c.rate).as_dict(), **c.as_dict()}


def data_record(data: Path, fmt: str) -> dict[str, str]:
    """Where the corpus is, relative to $GENSEQ_DATA (no machine path in a shipped JSON)."""
    root = os.environ.get("GENSEQ_DATA")
    try:
        rel = data.resolve().relative_to(Path(root).resolve()) if root else None
    except ValueError:
        rel = None
    if rel is None:
        raise GenseqError(f"--data must lie under $GENSEQ_DATA (now {root!r}): {data}")
    return {"under": "$GENSEQ_DATA", "path": rel.as_posix(), "format": fmt}


def text_record(name: str, a: argparse.Namespace, cfg: dict) -> dict:
    """The figures a shipped text model's record holds, measured on its shipped weights."""
    fmt = a.format or cfg.get("data_format", "plain")
    out = {
        f"valid_first{TEXT_SUBSET}": text_figures(name, a.data, fmt, "valid", TEXT_SUBSET),
        "valid": text_figures(name, a.data, fmt, "valid"),
        "test": text_figures(name, a.data, fmt, "test"),
    }
    if a.dynamic:
        out["test_dynamic"] = text_figures(name, a.data, fmt, "test", dynamic=True)
    return out


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--cache", type=Path, help="handwriting: the prepared IAM-OnDB cache")
    ap.add_argument("--record", type=Path, required=True, help="JSON: commands, hardware, notes")
    ap.add_argument("--full", action="store_true", help="also evaluate all testset_v lines")
    ap.add_argument("--data", type=Path, help="text: the corpus (under $GENSEQ_DATA)")
    ap.add_argument("--format", help="text: the corpus format (default: the run's)")
    ap.add_argument("--dynamic", action="store_true", help="text: also dynamic eval of test")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = json.loads((a.run / "config.json").read_text())
    text = cfg.get("kind") == "text"
    if not text and a.cache is None:
        raise GenseqError("a handwriting run needs --cache (the prepared IAM-OnDB cache)")
    if text and a.data is None:
        raise GenseqError("a text run needs --data (its corpus)")
    hours, step = training_hours(a.run / "metrics.jsonl")
    base = base_record(cfg)  # before export_model rewrites a shipped NAME.json
    record = json.loads(a.record.read_text())
    if text:  # checked before anything is written
        record["eval_data"] = data_record(a.data, a.format or cfg.get("data_format", "plain"))
    record.update(
        updates=cfg.get("step", step),  # the best-on-validation model's step
        updates_run=step,
        train_hours=round(hours, 2),
        commit=commit(),
    )
    if base is not None:  # totals over the whole history, this run's own segment beside them
        record.update(
            init_from=base,
            updates_this_run=record["updates"],
            hours_this_run=record["train_hours"],
            updates=base["updates"] + record["updates"],
            updates_run=base["updates"] + step,
            train_hours=round(base["train_hours"] + hours, 2),
        )
    _, js = export_model(a.run, a.name, record)  # fp16 storage (genseq.train.pretrained)
    # evaluate what ships: the fp16-rounded weights, loaded back by name as fp32
    if text:
        record.update(text_record(a.name, a, cfg))
    else:
        record["valid_first100"] = valid_figures(Path(a.name), a.cache, SUBSET)
    if a.full and not text:
        record["valid"] = valid_figures(Path(a.name), a.cache)
    atomic_write_text(js, json.dumps({**cfg, "record": record}, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GenseqError as e:
        print(f"ship_model: error: {e}", file=sys.stderr)
        sys.exit(2)
