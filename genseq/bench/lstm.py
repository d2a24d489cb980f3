"""`genseq bench` cases of the LSTM layers (see `genseq.bench`): DeepLSTM against `nn.LSTM`,
the share of the machine's GEMM rate, the peephole kernel against an LSTMCell-style loop."""

from __future__ import annotations

import copy
import statistics

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.bench.timing import Sizes, compare, result_row, time_calls, train_step
from genseq.nn.lstm import DeepLSTM, LSTMConfig
from genseq.nn.scan import Linear, mm


def _lstm_flops(sizes: list[tuple[int, int]], B: int, T: int) -> float:
    """Forward GEMM FLOPs: sum over layers of 2 B T 4H (I_n + H); sizes = [(I_n, H)]."""
    return float(sum(2 * B * T * 4 * H * (In + H) for In, H in sizes))


def gemm_seconds(sizes: list[tuple[int, int]], B: int, T: int, repeats: int) -> tuple[float, str]:
    """Median time of exactly the forward's GEMMs: per layer (B T, I_n) x (I_n, 4H) once and
    (B, H) x (H, 4H) T times; with torch.matmul and with oneDNN (weights packed, as in
    genseq.nn.scan), whichever is faster: the machine's GEMM rate, not one library's."""

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

    best = [(statistics.median(time_calls(f, repeats)), name)
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

    torch.manual_seed(0)
    B, T, In, H = s.batch, s.seq, s.input, hidden
    x = torch.randn(B, T, In)
    ours = DeepLSTM(LSTMConfig(In, H, layers, skip_input=False, skip_output=False))
    base = nn.LSTM(In, H, layers, batch_first=True)
    t_ours, t_base = compare(
        train_step(ours, lambda: ours(x)[0].square().mean()),
        train_step(base, lambda: base(x)[0].square().mean()),
        s.repeats,
    )
    name = f"lstm {layers}x{H} B={B} T={T}"
    sizes = [(In, H)] + [(H, H)] * (layers - 1)
    flops = _lstm_flops(sizes, B, T)
    t_gemm, lib = gemm_seconds(sizes, B, T, s.repeats)
    achieved, gemm = 3 * flops / t_ours, flops / t_gemm
    ref = f"fp32 GEMM at the LSTM's sizes ({lib})"
    return [
        result_row(f"{name} train vs nn.LSTM", B * T / t_ours, B * T / t_base, "steps/s",
                t_base / t_ours, 1.0, "ratio"),
        result_row(f"{name} train, fraction of GEMM FLOP/s", achieved / 1e9, gemm / 1e9, "GFLOP/s",
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
        train_step(a, lambda: a(x)[0].square().mean()),
        train_step(b, lambda: b(x)[0].square().mean()),
        s.repeats,
    )
    name = f"noise: nn.LSTM {layers}x{H} vs an identical nn.LSTM"
    n = s.batch * s.seq
    return [result_row(name, n / t_a, n / t_b, "steps/s", t_b / t_a, None, None)]


def bench_lstm_peep(s: Sizes) -> list[dict]:

    torch.manual_seed(0)
    layers, H = s.peep
    B, T, In = s.batch, s.seq, s.input
    x = torch.randn(B, T, In)
    ours = DeepLSTM(LSTMConfig(In, H, layers, peepholes=True, skip_input=True))
    base = _CellLoop(ours)
    t_ours, t_base = compare(
        train_step(ours, lambda: ours(x)[0].square().mean()),
        train_step(base, lambda: base(x).square().mean()),
        s.repeats,
    )
    sizes = [(In, H)] + [(In + H, H)] * (layers - 1)
    flops = _lstm_flops(sizes, B, T)
    t_gemm, lib = gemm_seconds(sizes, B, T, s.repeats)
    name = f"lstm-peep {layers}x{H} skip B={B} T={T}"
    return [
        result_row(f"{name} train vs LSTMCell-style loop", B * T / t_ours, B * T / t_base,
                "steps/s", t_base / t_ours, 1.0, "ratio"),
        result_row(f"{name} train, fraction of GEMM FLOP/s", 3 * flops / t_ours / 1e9,
                flops / t_gemm / 1e9, "GFLOP/s", 3 * t_gemm / t_ours, 0.6, "fraction",
                baseline_is=f"fp32 GEMM at the LSTM's sizes ({lib})"),
    ]  # fmt: skip
