"""`make demo-train`: train a small char-level model for about two minutes, then print a sample.

Uses tiny-shakespeare from $GENSEQ_DATA (or ../shared/data) when present, else this
project's README.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from genseq.text.corpus import load_corpus
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.sample import sample
from genseq.text.task import TextTask
from genseq.train.trainer import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def find_corpus() -> Path:
    base = Path(os.environ.get("GENSEQ_DATA", ROOT.parent / "shared" / "data"))
    shakespeare = base / "text" / "tinyshakespeare" / "input.txt"
    return shakespeare if shakespeare.is_file() else ROOT / "README.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--out", default=str(ROOT / "runs" / "demo"))
    a = ap.parse_args(argv)
    path = find_corpus()
    corpus = load_corpus(path, "plain")
    print(
        f"demo: training a 2 x 256 char LSTM on {path.name} "
        f"({len(corpus.train):,} chars) for {a.minutes:g} minutes",
        file=sys.stderr,
    )
    torch.manual_seed(0)
    model = TextModel(TextModelConfig(vocab_size=len(corpus.vocab), hidden_size=256, num_layers=2))
    task = TextTask(corpus, batch_size=32, seq_len=100, eval_symbols=20_000)
    cfg = TrainConfig(lr=3e-3, minutes=a.minutes, eval_every=200)
    res = Trainer(model, task, cfg, a.out, {"vocab": corpus.vocab.to_json()}).fit()
    print(
        f"demo: {res['step']} updates, valid {res['best']:.3f} bpc; model in {a.out}\n",
        file=sys.stderr,
    )
    prime = "ROMEO:\n" if "shakespeare" in str(path) else "genseq "
    sys.stdout.write(prime)
    for s in sample(model, corpus.vocab, prime, length=600, temperature=0.8, seed=1):
        sys.stdout.write(s)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
