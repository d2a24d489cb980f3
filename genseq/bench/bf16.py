"""`genseq bench --only bf16`: what bf16 buys on this machine (issue 12).

Rows (ratios timed alternately in one run, as every `genseq bench` case):
- `bf16 GEMM peak`: a 2048² matmul in bf16 vs fp32, GFLOP/s; the bf16 figure is the peak the
  shares below are taken of.
- `synth ... bf16 vs fp32`: SynthesisNet (3 x 400) training points/s under `--precision bf16`
  vs fp32, both on the fast path (`genseq.nn.scan`). Goal >= 2.0x (set for CPUs with AMX).
- `text lstm 1x1000 ... bf16 vs fp32`: DeepLSTM 1 x 1000 (one-hot input, B = 32, T = 100)
  training steps/s, same goal.
- `... bf16 share of the bf16 GEMM peak`: the bf16 case's GEMM FLOP/s (training ~ 3x the
  forward's GEMM FLOPs, counted analytically) as a fraction of the peak above; no goal.
- `sample 1 line bf16 vs fp32`: `synthesize` with bf16 vs fp32 GEMMs (1000 points).
The notes name the CPU flags that decided `--precision auto`.
"""

from __future__ import annotations

import statistics

import torch
from torch import Tensor

from genseq.bench.domains import random_strokes, synth_net
from genseq.bench.timing import compare, result_row, time_calls
from genseq.nn import precision


def gemm_peak(n: int, repeats: int) -> tuple[float, float]:
    """GFLOP/s of an n x n x n matmul in (bf16, fp32), medians."""

    out = []
    for dt in (torch.bfloat16, torch.float32):
        a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
        out.append(2 * n**3 / statistics.median(time_calls(lambda a=a, b=b: a @ b, repeats)) / 1e9)
    return out[0], out[1]


def _amp_step(model, loss_fn, prec: str):
    """A training step (Adam) with the forward under `prec`."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        with precision.autocast(prec):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _pair(make, loss, repeats: int) -> tuple[float, float]:
    """Median seconds of a training step in (bf16, fp32) on two copies of one model."""

    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    return compare(_amp_step(a, lambda: loss(a), "bf16"), _amp_step(b, lambda: loss(b), "fp32"),
                   repeats)  # fmt: skip


def _rows(
    name: str, n: int, unit: str, t_bf: float, t_fp: float, flops: float, peak: float
) -> list[dict]:
    """The ratio row (goal 2.0x) and the bf16 share-of-peak row of a training case; training
    counted as 3x the forward's GEMM FLOPs."""

    rate = 3 * flops / t_bf / 1e9
    return [
        result_row(f"{name} bf16 vs fp32", n / t_bf, n / t_fp, unit, t_fp / t_bf, 2.0, "ratio"),
        result_row(f"{name} bf16 share of the bf16 GEMM peak", rate, peak, "GFLOP/s", rate / peak,
                None, None),
    ]  # fmt: skip


def bench_synth(s, peak: float) -> list[dict]:
    from genseq.hand.model import inputs_targets
    from genseq.nn.mdn import mdn_nll, split_params

    B, T, H, A = s.batch, s.synth_seq, s.synth_hidden, s.alphabet
    x, y = inputs_targets(random_strokes(B, T))
    text = torch.randint(1, A, (B, max(T // s.points_per_char, 1)))

    def loss(net) -> Tensor:
        return mdn_nll(split_params(net(x, text)[0], net.n_mixtures), y).sum() / B

    t_bf, t_fp = _pair(lambda: synth_net(s), loss, s.repeats)
    net = synth_net(s)
    N, M = net.cfg.num_layers, net.n_mixtures
    G, X = 4 * H, 3 + A  # forward GEMMs: layer 1 [x, w, h], layers 2..N [x, w, h_below, h], head
    flops = 2 * B * T * (G * (X + H) + (N - 1) * G * (X + 2 * H) + (1 + 6 * M) * N * H)
    return _rows(f"synth {N}x{H} B={B} T={T} train", B * T, "points/s", t_bf, t_fp, flops, peak)


def bench_text(s, peak: float) -> list[dict]:
    from genseq.nn.lstm import DeepLSTM, LSTMConfig

    B, T, V, H = s.batch, s.seq, s.input, s.text_hidden
    x = torch.nn.functional.one_hot(torch.randint(0, V, (B, T)), V).float()

    def make() -> DeepLSTM:
        torch.manual_seed(0)
        return DeepLSTM(LSTMConfig(V, H, 1))

    t_bf, t_fp = _pair(make, lambda m: m(x)[0].float().square().mean(), s.repeats)
    flops = 2 * B * T * 4 * H * (V + H)
    return _rows(f"text lstm 1x{H} B={B} T={T} train", B * T, "steps/s", t_bf, t_fp, flops, peak)


def bench_sampling(s) -> list[dict]:

    net = synth_net(s).eval()
    with torch.no_grad():  # the window crawls: no early stop, every run makes `steps` points
        net.window.proj.bias[2 * net.cfg.n_window :].fill_(-12.0)
    steps = s.sample_chars * s.points_per_char
    text = torch.randint(1, s.alphabet, (1, s.sample_chars))
    t_bf, t_fp = compare(
        lambda: net.synthesize(text, max_steps=steps, precision="bf16"),
        lambda: net.synthesize(text, max_steps=steps, precision="fp32"),
        s.repeats,
    )
    name = f"sample 1 line ({steps} points, 3x{s.synth_hidden}) bf16 vs fp32 GEMMs, seconds"
    return [result_row(name, t_bf, t_fp, "s", t_fp / t_bf, None, None)]


def run(s) -> tuple[list[dict], list[str]]:

    n = 2048 if s.repeats > 1 else 64
    bf, fp = gemm_peak(n, s.repeats)
    d = precision.describe()
    rows = [result_row(f"bf16 GEMM peak ({n}^3 matmul) vs fp32", bf, fp, "GFLOP/s", bf / fp,
                    None, None, cpu_bf16_flags=d["cpu_bf16_flags"], auto=d["auto"])]  # fmt: skip
    rows += bench_synth(s, bf) + bench_text(s, bf) + bench_sampling(s)
    flags = ", ".join(d["cpu_bf16_flags"]) or "none"
    notes = [
        f"--precision auto = {d['auto']} here: CPU bf16 flags {flags} (AMX: "
        f"{'yes' if any(f.startswith('amx') for f in d['cpu_bf16_flags']) else 'no'}), "
        f"torch CPU capability {d['torch_cpu_capability']}"
        + (f", forced {d['forced']}" if d["forced"] is not None else "")
    ]
    return rows, notes
