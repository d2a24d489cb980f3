"""`genseq bench`: speed ratios against baselines, measured in one run (`genseq.bench`)."""

from __future__ import annotations

import argparse
import json

import torch

from genseq.bench import CASES, run
from genseq.cli.command import command


def add_bench_command(sub: argparse._SubParsersAction) -> None:
    p = command(sub, cmd_bench, "speed ratios against baselines, measured in one run")
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter sequences")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--only", action="append", choices=CASES, help="run only these (repeatable)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--cache", default=None, help="IAM-OnDB cache to time loading")
    p.add_argument(
        "--build-cache", action="store_true", help="build a cache from $GENSEQ_DATA/iamondb first"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile genseq's side of each case (torch.profiler, top operators)",
    )
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests: tiny sizes


def cmd_bench(a: argparse.Namespace) -> int:
    """Time each fast path of genseq against its baseline, alternately in one process, and
    print the median ratios with their goals (the cases: `genseq.bench`)."""
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    res = run(a.quick, a.tiny, a.only, a.cache, a.build_cache, a.profile)
    if a.json:
        print(json.dumps(res))
        return 0
    print(
        f"torch {res['torch']}, {res['threads']} threads of {res['cpus']} CPUs, "
        f"{res['processor']} ({res['mode']}, median of {res['repeats']}, "
        f"{res['seconds']:.0f} s)"
    )
    for r in res["results"]:
        line = f"{r['name']}: {r['ours']:,.4g} {r['unit']}"
        if r["baseline"] is not None:
            line += f" vs {r['baseline']:,.4g}"
        if r["ratio"] is not None:
            line += f" = {r['ratio']:.2f}x"
        if r["met"] is not None:
            sign = "<=" if r["goal_on"] == "seconds" else ">="
            line += f" (goal {sign} {r['goal']}: {'met' if r['met'] else 'MISSED'})"
        print(line)
        if "profile" in r:
            print(r["profile"])
    for n in res["notes"]:
        print(f"note: {n}")
    return 0
