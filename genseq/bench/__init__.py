"""`genseq bench`: speed as ratios against baselines measured in the same run.

Each measurement times genseq's path and its baseline alternately (warm-up excluded) and
reports medians, so a ratio is robust to whatever else the machine is doing; absolute figures
come with the thread count. Cases (B = 32, T = 100 unless said):

- `lstm LxH`: DeepLSTM training step (forward, backward, Adam), no peepholes, no skip
  connections in or out, vs a `torch.nn.LSTM` stack of the same shape (steps/s = B T per
  second). Goal >= 1.0x. Both run oneDNN's fused LSTM layer, so this is parity up to noise;
  `lstm noise` times nn.LSTM against a second nn.LSTM to show how large that noise is.
- `lstm LxH gemm`: the same step as a fraction of the machine's fp32 GEMM throughput at the
  LSTM's own sizes. Goal >= 60 %. FLOPs are counted analytically:
      forward  F = sum over layers n of 2 B T 4H (I_n + H)   (input and recurrent GEMMs)
      training ~ 3 F   (backward: one GEMM for dL/dinput and one for dL/dW per forward GEMM)
  Elementwise work and the optimizer are not counted. The GEMM rate is F / (time of exactly the
  forward's GEMMs: per layer one (B T, I_n) x (I_n, 4H) and T of (B, H) x (H, 4H)), timed with
  torch.matmul and with oneDNN, the faster one; so the fraction is 3 F / t_step / (F / t_gemm)
  = 3 t_gemm / t_step.
- `lstm-peep 3x400`: peepholes and skip connections (Graves' cell), vs the same maths as an
  `nn.LSTMCell`-style Python loop (every layer, every step, under autograd). Goal >= 1.0x.
- `synth`: SynthesisNet (3 x 400, K = 10, M = 20) training points/s, fast path vs
  `forward_stepped` (every layer stepped). Goal >= 3x.
- `sample 1 line` / `sample 8 lines`: `synthesize` of 40 characters at 25 points a character
  (the window is slowed so every run makes exactly 1000 points), vs the plain `step` loop.
  Goals <= 0.25 s and <= 0.6 s (on 2 cores; `synthesize` samples on one thread, fp32).
  `... TorchScript loop vs Python steps`: the same `synthesize` with its steps run by the
  scripted loop (`genseq.hand.sampler_loop`) vs in Python (`SynthStep`), no goal.
- `bf16`: bf16 vs fp32 training and sampling, the bf16 GEMM peak (`genseq.bench.bf16`).
- `text sample`: chars/s of `genseq.text.sample` (1 x 1000) vs `nn.LSTM` called once a step.
- `iam cache load`: seconds to load the cache and build the train/valid sets (`--cache PATH`,
  or `--build-cache` from $GENSEQ_DATA/iamondb); skipped with a note otherwise.

`--json` prints one JSON object; each result has name, ours, baseline, unit, ratio, goal,
goal_on ("ratio", "fraction", "seconds" or null) and met. `--profile` adds, to the first result
of each timed comparison, "profile": torch.profiler's top operators of genseq's side.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

from genseq.bench import bf16
from genseq.bench.domains import bench_cache, bench_sampling, bench_synth, bench_text_sampling
from genseq.bench.lstm import bench_lstm, bench_lstm_peep, bench_noise
from genseq.bench.timing import PROFILE, QUICK, TINY, Sizes

CASES = ("lstm", "lstm-peep", "synth", "sample", "text-sample", "cache", "bf16")


def run(
    quick: bool = False,
    tiny: bool = False,
    only: list[str] | None = None,
    cache: str | None = None,
    build_cache: bool = False,
    profile: bool = False,
) -> dict:
    s = TINY if tiny else QUICK if quick else Sizes()
    PROFILE["on"], PROFILE["pending"] = profile, None
    want = set(only or CASES)
    results: list[dict] = []
    notes: list[str] = []
    t0 = time.perf_counter()
    if "lstm" in want:
        for layers, hidden in s.lstm:
            results += bench_lstm(layers, hidden, s)
        results += bench_noise(s)
    if "lstm-peep" in want:
        results += bench_lstm_peep(s)
    if "synth" in want:
        results += bench_synth(s)
    if "sample" in want:
        results += bench_sampling(s)
    if "text-sample" in want:
        results += bench_text_sampling(s)
    if "cache" in want:
        r, n = bench_cache(cache, build_cache, s)
        results += r
        notes += n
    if "bf16" in want:  # bf16 vs fp32 rows, the flags that decided --precision auto
        r, n = bf16.run(s)
        results += r
        notes += n
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "mode": "tiny" if tiny else "quick" if quick else "full",
        "repeats": s.repeats,
        "seconds": time.perf_counter() - t0,
        "results": results,
        "notes": notes,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
