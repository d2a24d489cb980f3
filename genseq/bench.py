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
- `bf16`: bf16 vs fp32 training and sampling, the bf16 GEMM peak (`genseq.bench_bf16`).
- `text sample`: chars/s of `genseq.text.sample` (1 x 1000) vs `nn.LSTM` called once a step.
- `iam cache load`: seconds to load the cache and build the train/valid sets (`--cache PATH`,
  or `--build-cache` from $GENSEQ_DATA/iamondb); skipped with a note otherwise.

`--json` prints one JSON object; each result has name, ours, baseline, unit, ratio, goal,
goal_on ("ratio", "fraction", "seconds" or null) and met. `--profile` adds, to the first result
of each timed comparison, "profile": torch.profiler's top operators of genseq's side.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
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


def _time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


_PROFILE = {"on": False, "pending": None}  # --profile: compare() leaves a table for _result


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
        a += _time(ours, 1, 0)
        b += _time(base, 1, 0)
    if _PROFILE["on"]:
        _PROFILE["pending"] = _profile_table(ours)
    return statistics.median(a), statistics.median(b)


def _result(
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
    prof, _PROFILE["pending"] = _PROFILE["pending"], None
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


def _train_step(model: nn.Module, loss_fn: Callable[[], Tensor]) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


# ---- LSTM training -----------------------------------------------------------------------------


def _lstm_flops(sizes: list[tuple[int, int]], B: int, T: int) -> float:
    """Forward GEMM FLOPs: sum over layers of 2 B T 4H (I_n + H); sizes = [(I_n, H)]."""
    return float(sum(2 * B * T * 4 * H * (In + H) for In, H in sizes))


def gemm_seconds(sizes: list[tuple[int, int]], B: int, T: int, repeats: int) -> tuple[float, str]:
    """Median time of exactly the forward's GEMMs: per layer (B T, I_n) x (I_n, 4H) once and
    (B, H) x (H, 4H) T times; with torch.matmul and with oneDNN (weights packed, as in
    genseq.nn.scan), whichever is faster: the machine's GEMM rate, not one library's."""
    from genseq.nn.scan import Linear, mm

    mats = [
        (torch.randn(B * T, In), torch.randn(4 * H, In), torch.randn(B, H), torch.randn(4 * H, H))
        for In, H in sizes
    ]

    def torch_mm() -> None:
        for x, w_ih, h, w_hh in mats:
            x @ w_ih.t()
            w_t = w_hh.t()
            for _ in range(T):
                h @ w_t

    def onednn() -> None:
        for x, w_ih, h, w_hh in mats:
            mm(x, w_ih.t())
            rec = Linear(w_hh, B)
            for _ in range(T):
                rec(h)

    best = [(statistics.median(_time(f, repeats)), name)
            for f, name in ((torch_mm, "torch.matmul"), (onednn, "oneDNN"))]  # fmt: skip
    return min(best)


class _CellLoop(nn.Module):
    """Baseline: Graves' peephole cell with skip connections as an `nn.LSTMCell`-style loop,
    every layer at every step under autograd, on a copy of a DeepLSTM's parameters."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.layers = copy.deepcopy(net.layers)

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        hs = [x.new_zeros(B, m.hidden_size) for m in self.layers]
        cs = [x.new_zeros(B, m.hidden_size) for m in self.layers]
        outs = []
        for x_t in x.unbind(1):
            below = None
            for n, m in enumerate(self.layers):
                inp = x_t if below is None else torch.cat([x_t, below], -1)
                gates = F.linear(inp, m.weight_ih, m.bias_ih) + F.linear(
                    hs[n], m.weight_hh, m.bias_hh
                )
                i, f, g, o = gates.chunk(4, 1)
                c = torch.sigmoid(f + m.peep[1] * cs[n]) * cs[n] + torch.sigmoid(
                    i + m.peep[0] * cs[n]
                ) * torch.tanh(g)
                h = torch.sigmoid(o + m.peep[2] * c) * torch.tanh(c)
                hs[n], cs[n], below = h, c, h
            outs.append(torch.cat(hs, -1))
        return torch.stack(outs, 1)


def bench_lstm(layers: int, hidden: int, s: Sizes) -> list[dict]:
    from genseq.nn.lstm import DeepLSTM, LSTMConfig

    torch.manual_seed(0)
    B, T, In, H = s.batch, s.seq, s.input, hidden
    x = torch.randn(B, T, In)
    ours = DeepLSTM(LSTMConfig(In, H, layers, skip_input=False, skip_output=False))
    base = nn.LSTM(In, H, layers, batch_first=True)
    t_ours, t_base = compare(
        _train_step(ours, lambda: ours(x)[0].square().mean()),
        _train_step(base, lambda: base(x)[0].square().mean()),
        s.repeats,
    )
    name = f"lstm {layers}x{H} B={B} T={T}"
    sizes = [(In, H)] + [(H, H)] * (layers - 1)
    flops = _lstm_flops(sizes, B, T)
    t_gemm, lib = gemm_seconds(sizes, B, T, s.repeats)
    achieved, gemm = 3 * flops / t_ours, flops / t_gemm
    ref = f"fp32 GEMM at the LSTM's sizes ({lib})"
    return [
        _result(f"{name} train vs nn.LSTM", B * T / t_ours, B * T / t_base, "steps/s",
                t_base / t_ours, 1.0, "ratio"),
        _result(f"{name} train, fraction of GEMM FLOP/s", achieved / 1e9, gemm / 1e9, "GFLOP/s",
                achieved / gemm, 0.6, "fraction", baseline_is=ref),
    ]  # fmt: skip


def bench_noise(s: Sizes) -> list[dict]:
    """nn.LSTM against an identical nn.LSTM: the ratio is 1 but for timing noise, which is how
    far a parity ratio (`lstm LxH train vs nn.LSTM`) can drift from 1 in this run."""
    torch.manual_seed(0)
    layers, H = s.lstm[0]
    x = torch.randn(s.batch, s.seq, s.input)
    a, b = (nn.LSTM(s.input, H, layers, batch_first=True) for _ in range(2))
    t_a, t_b = compare(
        _train_step(a, lambda: a(x)[0].square().mean()),
        _train_step(b, lambda: b(x)[0].square().mean()),
        s.repeats,
    )
    name = f"noise: nn.LSTM {layers}x{H} vs an identical nn.LSTM"
    n = s.batch * s.seq
    return [_result(name, n / t_a, n / t_b, "steps/s", t_b / t_a, None, None)]


def bench_lstm_peep(s: Sizes) -> list[dict]:
    from genseq.nn.lstm import DeepLSTM, LSTMConfig

    torch.manual_seed(0)
    layers, H = s.peep
    B, T, In = s.batch, s.seq, s.input
    x = torch.randn(B, T, In)
    ours = DeepLSTM(LSTMConfig(In, H, layers, peepholes=True, skip_input=True))
    base = _CellLoop(ours)
    t_ours, t_base = compare(
        _train_step(ours, lambda: ours(x)[0].square().mean()),
        _train_step(base, lambda: base(x).square().mean()),
        s.repeats,
    )
    sizes = [(In, H)] + [(In + H, H)] * (layers - 1)
    flops = _lstm_flops(sizes, B, T)
    t_gemm, lib = gemm_seconds(sizes, B, T, s.repeats)
    name = f"lstm-peep {layers}x{H} skip B={B} T={T}"
    return [
        _result(f"{name} train vs LSTMCell-style loop", B * T / t_ours, B * T / t_base,
                "steps/s", t_base / t_ours, 1.0, "ratio"),
        _result(f"{name} train, fraction of GEMM FLOP/s", 3 * flops / t_ours / 1e9,
                flops / t_gemm / 1e9, "GFLOP/s", 3 * t_gemm / t_ours, 0.6, "fraction",
                baseline_is=f"fp32 GEMM at the LSTM's sizes ({lib})"),
    ]  # fmt: skip


# ---- handwriting -------------------------------------------------------------------------------


def _synth_net(s: Sizes):
    from genseq.hand.model import SynthesisConfig, SynthesisNet

    torch.manual_seed(0)
    return SynthesisNet(SynthesisConfig(alphabet_size=s.alphabet, hidden_size=s.synth_hidden))


def _strokes(B: int, T: int) -> Tensor:
    x = torch.randn(B, T, 3)
    x[..., 2] = (torch.rand(B, T) < 0.04).float()
    return x


def bench_synth(s: Sizes) -> list[dict]:
    from genseq.hand.model import inputs_targets
    from genseq.nn.mdn import mdn_nll, split_params

    B, T = s.batch, s.synth_seq
    U = max(T // s.points_per_char, 1)
    fast = _synth_net(s)
    ref = copy.deepcopy(fast)
    x, y = inputs_targets(_strokes(B, T))
    mask = torch.ones(B, T, dtype=torch.bool)
    text = torch.randint(1, s.alphabet, (B, U))

    def loss(f) -> Tensor:
        return mdn_nll(split_params(f(x, text)[0], fast.n_mixtures), y, mask).sum() / B

    t_fast, t_ref = compare(
        _train_step(fast, lambda: loss(fast)),
        _train_step(ref, lambda: loss(ref.forward_stepped)),
        s.repeats,
    )
    name = f"synth {fast.cfg.num_layers}x{s.synth_hidden} B={B} T={T} train vs forward_stepped"
    out = [_result(name, B * T / t_fast, B * T / t_ref, "points/s", t_ref / t_fast, 3.0, "ratio")]
    if fast.upper is None:
        return out
    # the part no stepping choice can speed up: layers 2..N (fused kernel) and the head, fed
    # random layer-1 outputs; t_ref / t_upper bounds the ratio even if layer 1 and the window
    # cost nothing
    H, A = s.synth_hidden, s.alphabet
    xw, h1 = torch.randn(T, B, 3 + A), torch.randn(T, B, H, requires_grad=True)

    yt = y.transpose(0, 1)

    def upper() -> Tensor:
        o, _ = fast.upper(xw, None, below=h1, batch_first=False)
        y_hat = fast.head(torch.cat([h1, o], -1))
        return mdn_nll(split_params(y_hat, fast.n_mixtures), yt).sum() / B

    t_up = statistics.median(_time(_train_step(fast, upper), s.repeats))
    name = "synth ceiling: forward_stepped vs layers 2..N + head alone"
    n = B * T
    out.append(_result(name, n / t_up, n / t_ref, "points/s", t_ref / t_up, None, None))
    return out


def _reference_sampler(net, text: Tensor, steps: int) -> Callable[[], None]:
    """Baseline: `step` and a draw per point, nothing else (no stop rule bookkeeping)."""
    from genseq.hand.model import _draw
    from genseq.nn.window import u_grid

    chars = net.encode_text(text)
    u = u_grid(chars.shape[1])

    @torch.no_grad()
    def run() -> None:
        st = net.initial_state(text.shape[0])
        x = torch.zeros(text.shape[0], 3)
        for _ in range(steps):
            y, st, _ = net.step(x, st, chars, u)
            x = _draw(y, net.cfg.n_mixtures, 0.0, None)

    return run


def bench_sampling(s: Sizes) -> list[dict]:
    net = _synth_net(s).eval()
    K = net.cfg.n_window
    with torch.no_grad():  # the window crawls: no early stop, every run makes `steps` points
        net.window.proj.bias[2 * K :].fill_(-12.0)
    steps = s.sample_chars * s.points_per_char
    out = []
    for lines, goal in ((1, 0.25), (s.sample_lines, 0.6)):  # issue 12's goals
        text = torch.randint(1, s.alphabet, (lines, s.sample_chars))
        gen = torch.Generator().manual_seed(0)
        t_ours, t_base = compare(
            lambda text=text, gen=gen: net.synthesize(text, max_steps=steps, generator=gen),
            _reference_sampler(net, text, steps),
            s.repeats,
        )
        name = (
            f"sample {lines} line{'s' if lines > 1 else ''} x {s.sample_chars} chars "
            f"({steps} points, 3x{s.synth_hidden}) seconds"
        )
        out.append(_result(name, t_ours, t_base, "s", t_base / t_ours, goal, "seconds"))
    return out


def bench_text_sampling(s: Sizes) -> list[dict]:
    from genseq.text.corpus import Vocab
    from genseq.text.model import TextModel, TextModelConfig
    from genseq.text.sample import sample

    torch.manual_seed(0)
    V, H, n = s.input, s.text_hidden, s.text_len
    vocab = Vocab([chr(65 + i) for i in range(V)], "char")
    ours = TextModel(TextModelConfig(vocab_size=V, hidden_size=H, num_layers=1)).eval()
    lstm, head = nn.LSTM(V, H, 1), nn.Linear(H, V)
    gen = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def base() -> None:  # nn.LSTM once a step: one-hot in, softmax, draw
        x, state = torch.zeros(1, 1, V), None
        for _ in range(n):
            h, state = lstm(x, state)
            nxt = int(torch.multinomial(torch.softmax(head(h[0, 0]), -1), 1, generator=gen))
            x = F.one_hot(torch.tensor([[nxt]]), V).float()

    t_ours, t_base = compare(lambda: list(sample(ours, vocab, "", n, 1.0, 0)), base, s.repeats)
    name = f"text sample 1x{H} ({n} chars) vs nn.LSTM per step"
    return [_result(name, n / t_ours, n / t_base, "chars/s", t_base / t_ours, 1.0, "ratio")]


def bench_cache(cache: str | None, build: bool, s: Sizes) -> tuple[list[dict], list[str]]:
    from genseq.hand.data import HandCache, HandDataset

    notes = []
    tmp = None
    if cache is None and build:
        from genseq.hand.cli import default_iam_dir
        from genseq.hand.data import build_cache
        from genseq.hand.iamondb import read_iamondb

        iam = default_iam_dir()
        if iam is None or not iam.is_dir():
            return [], ["iam cache load: skipped, --build-cache needs $GENSEQ_DATA/iamondb"]
        tmp = tempfile.TemporaryDirectory()
        cache = str(Path(tmp.name) / "iam.npz")
        t = time.perf_counter()
        build_cache(read_iamondb(iam, workers=s.workers, progress=False)).save(cache)
        notes.append(f"iam cache built from {iam} in {time.perf_counter() - t:.1f} s")
    if cache is None:
        return [], ["iam cache load: skipped (give --cache PATH, or --build-cache)"]

    def load() -> None:
        c = HandCache.load(cache)
        HandDataset(c, "train")
        HandDataset(c, "valid", alphabet=c.alphabet)

    try:
        t = statistics.median(_time(load, max(s.repeats // 2, 1)))
    finally:
        if tmp is not None:
            tmp.cleanup()
    mib = os.path.getsize(cache) / 2**20 if os.path.exists(cache) else None
    return [_result("iam cache load + train/valid sets", t, None, "s", None, 2.0, "seconds",
                    cache_mib=mib)], notes  # fmt: skip


# ---- the run -----------------------------------------------------------------------------------

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
    _PROFILE["on"], _PROFILE["pending"] = profile, None
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
    if "bf16" in want:  # genseq.bench_bf16: bf16 vs fp32 rows, the flags that decided auto
        from genseq import bench_bf16

        r, n = bench_bf16.run(s)
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed ratios against baselines, measured in one run")
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
    p.set_defaults(func=cmd_bench)


def cmd_bench(a: argparse.Namespace) -> int:
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
