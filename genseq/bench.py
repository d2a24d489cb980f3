"""`genseq bench`: speed as ratios against baselines measured in the same run.

Each measurement times genseq's path and its baseline alternately (warm-up excluded) and
reports medians, so the ratio is robust to whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _time(fn: Callable[[], None], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def compare(
    ours: Callable[[], None], base: Callable[[], None], repeats: int
) -> tuple[float, float]:
    """Median seconds of (ours, baseline), timed alternately in rounds."""
    ours(), base()  # warm-up
    a, b = [], []
    for _ in range(repeats):
        a += _time(ours, 1, 0)
        b += _time(base, 1, 0)
    return statistics.median(a), statistics.median(b)


class _PlainLSTMText(nn.Module):
    """The baseline: torch.nn.LSTM stack + linear head, one-hot input."""

    def __init__(self, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(F.one_hot(ids, self.vocab).float())
        return self.head(h)


def _train_step_fn(model: nn.Module, ids: torch.Tensor, forward) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        logits = forward(ids[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def bench_text_lstm(
    layers: int, hidden: int, batch: int = 32, seq: int = 100, vocab: int = 50, repeats: int = 5
) -> dict:
    from genseq.text.model import TextModel, TextModelConfig

    torch.manual_seed(0)
    ids = torch.randint(0, vocab, (batch, seq + 1))
    ours = TextModel(TextModelConfig(vocab_size=vocab, hidden_size=hidden, num_layers=layers))
    base = _PlainLSTMText(vocab, hidden, layers)
    t_ours, t_base = compare(
        _train_step_fn(ours, ids, lambda x: ours(x)[0]),
        _train_step_fn(base, ids, base),
        repeats,
    )
    n = batch * seq
    return {
        "name": f"text train {layers}x{hidden} B={batch} T={seq} (vs nn.LSTM)",
        "ours_per_s": n / t_ours,
        "baseline_per_s": n / t_base,
        "ratio": t_base / t_ours,
        "goal": 0.9,
        "unit": "symbols",
    }


def run(quick: bool = False) -> dict:
    repeats = 3 if quick else 7
    results = [bench_text_lstm(1, 1000, repeats=repeats)]
    if not quick:
        results.append(bench_text_lstm(3, 400, repeats=repeats))
    for r in results:
        r["met"] = r["ratio"] >= r["goal"]
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "results": results,
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed ratios against baselines, measured in one run")
    p.add_argument("--quick", action="store_true", help="fewer repeats, fewer cases")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_bench)


def cmd_bench(a: argparse.Namespace) -> int:
    res = run(a.quick)
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"torch {res['torch']}, {res['threads']} threads, {res['machine']}", file=sys.stderr)
    for r in res["results"]:
        print(
            f"{r['name']}: {r['ours_per_s']:,.0f} vs {r['baseline_per_s']:,.0f} {r['unit']}/s "
            f"= {r['ratio']:.2f}x (goal >= {r['goal']}x: {'met' if r['met'] else 'MISSED'})"
        )
    return 0
