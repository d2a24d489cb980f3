"""SynthesisNet's sampling step, fast: one GEMM per layer on preallocated buffers.

`SynthesisNet.step` is the reference (every layer through `LSTMLayer.cell`, new tensors and
`torch.cat`s each step). `SynthStep` computes the same eqs 3, 7-11 and 46-53, with:
- one row buffer Z = [h^1 | x | w | h^2 | ... | h^N] per batch item that every GEMM reads a
  contiguous slice of: layer 1 reads [h^1_{t-1}, x_t, w_{t-1}] (eq 52), layer 2 reads
  [h^1_t, x_t, w_t, h^2_{t-1}] and layer n >= 3 reads [x_t, w_t, ..., h^{n-1}_t, h^n_{t-1}]
  (eq 53; columns of the layers in between get zero weights, none for N <= 3), the head reads
  all of it (zero weights on x and w, eq 3). Each layer is one GEMM of its slice with its
  [W_ih, W_hh] columns placed to match, packed once per `synthesize` call
  (`genseq.nn.scan.Linear`), and its two biases summed; layer n's new h^n is written into
  its slot in place, after the GEMM that read h^n_{t-1}.
- the cell update in place (`genseq.nn.scan.cell_forward`), the window (eqs 46-51) by
  `genseq.nn.window.window_step`, the drawn point written straight into Z's x slot.
- bf16 (`low`): the weights and Z in bf16, so the GEMMs are bf16 matrix-vector products with
  fp32 accumulation (on a CPU with AVX512-BF16: ~1.5x the fp32 rate at batch 1, half the
  memory traffic); gate pre-activations, cell state c, the window (eqs 46-51, κ) and the MDN
  draw stay fp32. The state returned holds h and w as Z holds them (bf16 in bf16 mode).

The state dict returned aliases Z and the cell buffers: it is valid until the next call, and
a different dict passed in (the batch shrank, or a primed state) is loaded into new buffers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from genseq.nn.scan import Linear, cell_forward
from genseq.nn.window import window_step

SynthState = dict[str, Tensor]


@contextlib.contextmanager
def one_thread(device: torch.device | str) -> Iterator[None]:
    """CPU: torch on one thread, then back. A sampling step's ops are too small to share: with
    2 threads oneDNN's batch-1 GEMMs were no faster and tanh / exp (which torch parallelises
    from a few hundred elements) took 2-8x longer, fork-join included (AMD Zen 4, torch 2.13)."""
    n = torch.get_num_threads()
    if torch.device(device).type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class SynthStep:
    """A `SynthesisNet.step` for sampling (eval, no autograd): same signature and results
    up to rounding (fp32) or bf16 GEMM rounding (low=torch.bfloat16)."""

    def __init__(self, net, batch: int, low: torch.dtype | None = None):
        cfg = net.cfg
        H, A, N, X = cfg.hidden_size, cfg.alphabet_size, cfg.num_layers, 3
        self.H, self.A, self.N, self.K, self.low = H, A, N, cfg.n_window, low
        p = net.head.proj.weight
        self.device, self.dtype = p.device, p.dtype
        # column offsets in Z: h^1, x, w, h^2 .. h^N
        self.o_h = [0] + [H + X + A + (n - 1) * H for n in range(1, N)]
        self.o_x, self.o_w, self.width = H, H + X, H + X + A + (N - 1) * H
        layers = [net.lstm1] + (list(net.upper.layers) if net.upper is not None else [])
        self.layers = [self._layer(m, n, batch) for n, m in enumerate(layers)]
        hw, self.b_y = self._place(net.head.proj.weight, [(self.o_h[n], n * H, H) for n in
                                   range(N)], 0, self.width), net.head.proj.bias  # fmt: skip
        self.head = Linear(hw, batch, low)  # eq 3
        self.wp_t = net.window.proj.weight.detach().t().contiguous()  # eq 48, fp32
        self.b_p = net.window.proj.bias
        self.C = self.Z = None
        self.state: SynthState | None = None

    @staticmethod
    def _place(w: Tensor, cols: list[tuple[int, int, int]], start: int, end: int) -> Tensor:
        """W over Z[:, start:end]: w's columns [src, src+n) at Z column dst, zeros elsewhere."""
        out = w.new_zeros(w.shape[0], end - start)
        for dst, src, n in cols:
            out[:, dst - start : dst - start + n] = w[:, src : src + n]
        return out

    def _layer(self, m, n: int, batch: int) -> tuple[Linear, int, int, Tensor, Tensor | None]:
        """Layer n's (GEMM, Z slice start, end, summed bias, peepholes)."""
        H, A, X = self.H, self.A, 3
        w_ih, w_hh = m.weight_ih.detach(), m.weight_hh.detach()
        xw = [(self.o_x, 0, X + A)]  # [x, w] are w_ih's first X + A columns (eqs 52-53)
        if n == 0:  # eq 52: [x, w_{t-1}] and h^1_{t-1}
            cols, start = xw + [(self.o_h[0], X + A, H)], 0
        else:  # eq 53: [x, w_t], h^{n-1}_t (below), h^n_{t-1}
            cols = xw + [(self.o_h[n - 1], X + A, H), (self.o_h[n], X + A + H, H)]
            start = 0 if n == 1 else self.o_x
        end = self.o_w + A if n == 0 else self.o_h[n] + H
        w = self._place(torch.cat([w_ih, w_hh], 1), cols, start, end)
        return Linear(w, batch, self.low), start, end, m.bias_ih + m.bias_hh, m.peep

    def _load(self, st: SynthState, x: Tensor) -> None:
        """Fresh buffers for batch size B holding `st` (and x)."""
        B, H, N = x.shape[0], self.H, self.N
        self.Z = torch.zeros(B, self.width, device=self.device, dtype=self.low or self.dtype)
        self.C = torch.empty(N, B, H, device=self.device, dtype=self.dtype)
        self.TC = torch.empty(B, H, device=self.device, dtype=self.dtype)  # tanh(c) scratch
        self.kappa = st["kappa"].to(self.dtype).clone()
        self.Z[:, :H] = st["h1"]
        self.Z[:, self.o_w : self.o_w + self.A] = st["w"]
        self.C[0] = st["c1"]
        if N > 1:
            self.Z[:, self.o_h[1] :] = st["h"].transpose(0, 1).reshape(B, (N - 1) * H)
            self.C[1:] = st["c"]
        Z = self.Z
        self.state = {
            "h1": Z[:, :H],
            "c1": self.C[0],
            "kappa": self.kappa,
            "w": Z[:, self.o_w : self.o_w + self.A],
        }
        if N > 1:
            self.state["h"] = Z[:, self.o_h[1] :].view(B, N - 1, H).transpose(0, 1)
            self.state["c"] = self.C[1:]

    def __call__(
        self, x: Tensor, state: SynthState, chars: Tensor, u: Tensor
    ) -> tuple[Tensor, SynthState, Tensor]:
        """x_t (B,3), state, chars (B,U,A), u = u_grid(U) -> ŷ_t (B,1+6M) fp32, new state,
        φ(t, ·) (B,U+1)."""
        if state is not self.state:
            self._load(state, x)
        Z = self.Z
        Z[:, self.o_x : self.o_w] = x
        h1 = self._cell(0)  # eq 52, eqs 7-11
        p = torch.addmm(self.b_p, h1.to(self.dtype), self.wp_t)  # eq 48: (α̂, β̂, κ̂)
        w, kappa, phi = window_step(p, self.kappa, chars, u)  # eqs 46-51, fp32
        self.kappa.copy_(kappa)  # the state's κ is this buffer
        Z[:, self.o_w : self.o_w + self.A] = w
        for n in range(1, self.N):  # eq 53
            self._cell(n)
        return self.head(Z, bias=self.b_y), self.state, phi  # eq 3

    def _cell(self, n: int) -> Tensor:
        """Layer n's step: one GEMM on its slice of Z, eqs 7-11 in place; h^n_t into Z."""
        lin, start, end, b, peep = self.layers[n]
        g = lin(self.Z[:, start:end], bias=b)  # fp32 pre-activations
        h = self.Z[:, self.o_h[n] : self.o_h[n] + self.H]
        cell_forward(g, self.C[n], self.C[n], self.TC, h, peep)
        return h
