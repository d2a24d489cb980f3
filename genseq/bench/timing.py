"""Measurement plumbing of `genseq bench`: sizes, alternate timing with medians, the result
rows, an optimizer step."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Sizes:
    batch: int = 32
    seq: int = 100
    input: int = 50  # LSTM input width (a character vocabulary's one-hot)
    lstm: tuple[tuple[int, int], ...] = ((3, 400), (1, 1000))  # (layers, hidden)
    peep: tuple[int, int] = (3, 400)
    synth_hidden: int = 400
    synth_seq: int = 600  # points per line (IAM-OnDB lines: ~25 points a character)
    alphabet: int = 58  # paper57 + padding
    sample_chars: int = 40
    points_per_char: int = 25
    sample_lines: int = 8
    text_hidden: int = 1000
    text_len: int = 1000
    repeats: int = 7
    workers: int = 2  # XML parsing processes for --build-cache


QUICK = Sizes(synth_seq=150, text_len=200, repeats=3)
TINY = Sizes(  # the test's smoke run: every code path, no meaningful timing
    batch=4, seq=6, input=5, lstm=((2, 8),), peep=(2, 8), synth_hidden=8, synth_seq=6,
    alphabet=6, sample_chars=3, points_per_char=2, sample_lines=2, text_hidden=8, text_len=5,
    repeats=1, workers=1,
)  # fmt: skip


# ---- timing ------------------------------------------------------------------------------------


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


PROFILE = {"on": False, "pending": None}  # --profile: compare() leaves a table for result_row


def _profile_table(fn: Callable[[], object], rows: int = 12) -> str:
    """torch.profiler's top operators by self CPU time over one call of fn."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def compare(
    ours: Callable[[], object], base: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median seconds of (ours, baseline), timed alternately in rounds after one warm-up each.
    With --profile, one more call of `ours` runs under torch.profiler, after the timings."""
    ours(), base()  # warm-up
    a, b = [], []
    for _ in range(repeats):
        a += time_calls(ours, 1, 0)
        b += time_calls(base, 1, 0)
    if PROFILE["on"]:
        PROFILE["pending"] = _profile_table(ours)
    return statistics.median(a), statistics.median(b)


def result_row(
    name: str,
    ours: float,
    baseline: float | None,
    unit: str,
    ratio: float | None,
    goal: float | None,
    goal_on: str | None,
    **extra: object,
) -> dict:
    if goal is None or goal_on is None:
        met = None
    elif goal_on == "seconds":
        met = ours <= goal
    else:
        met = ratio is not None and ratio >= goal
    prof, PROFILE["pending"] = PROFILE["pending"], None
    if prof is not None:
        extra = {**extra, "profile": prof}
    return {
        "name": name,
        "ours": ours,
        "baseline": baseline,
        "unit": unit,
        "ratio": ratio,
        "goal": goal,
        "goal_on": goal_on,
        "met": met,
        **extra,
    }


def train_step(model: nn.Module, loss_fn: Callable[[], Tensor]) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step
