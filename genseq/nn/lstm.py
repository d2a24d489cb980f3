"""Graves' deep LSTM (§2, eqs 1–3 and 7–11).

    h^1_t = H(W_{i h^1} x_t + W_{h^1 h^1} h^1_{t-1} + b^1)                       eq. 1
    h^n_t = H(W_{i h^n} x_t + W_{h^{n-1} h^n} h^{n-1}_t + W_{h^n h^n} h^n_{t-1} + b^n)   eq. 2
    ŷ_t   = b_y + Σ_n W_{h^n y} h^n_t                                            eq. 3

The input feeds every layer (skip connections in), and `forward` returns every layer's
output concatenated so the head can read all of them (skip connections out, eq. 3).

Two paths with the same parameters and the same results:
- `forward(x)`: the whole sequence at once, for training. Without peepholes each layer is one
  fused `torch.lstm` call (oneDNN on CPU, cuDNN on GPU). With peepholes (or Graves' clip of
  the pre-activation derivatives) the input projection of each layer is hoisted out of the
  time loop into one GEMM and the recurrence runs in `genseq.nn.scan.lstm_scan` (in-place
  forward, hand-written backward with one weight-gradient GEMM over all steps);
  `LSTMLayer.forward_reference` is the plain autograd loop it is tested against.
- `step(x_t, state)`: one time step with explicit state, for sampling.

One-hot input (text, §3) may be given as integer ids instead of vectors: x (B,T) int64
stands for one_hot(x, input_size). Then W_x one_hot(id) = column `id` of W_x, so the input
part of every layer's pre-activations is a lookup (`LSTMLayer.forward_ids`), never the
(B·T × V) × (V × 4H) product, which for a word model (V = 10,000) would dominate the update.

Under bf16 autocast (`genseq.nn.precision`) a fused layer on CPU takes the scan path (its
GEMMs in bf16); on CUDA it stays on cuDNN in fp32.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.nn.clip import clip_grad
from genseq.nn.gemm import linear
from genseq.nn.precision import gemm_dtype, no_autocast
from genseq.nn.scan import lstm_scan

State = tuple[Tensor, Tensor]  # (h, c), each (num_layers, B, H), like nn.LSTM


@dataclass
class LSTMConfig:
    input_size: int
    hidden_size: int = 400
    num_layers: int = 3
    peepholes: bool = False  # eqs 7–11 have them; the fused path needs them off
    dropout: float = 0.0  # on every layer's output (to the next layer and to the head)
    below_size: int = 0  # extra input to layer 1 only (e.g. the window's w_{t-1}, eq. 52)
    skip_input: bool = True  # eq. 2: x_t feeds every layer, not only the first
    skip_output: bool = True  # eq. 3: every layer feeds the output; False: only the top (nn.LSTM)
    grad_clip: float = 0.0  # Graves: clip d loss / d pre-activations to [-v, v] (0 = off)


def cell_update(gates: Tensor, c: Tensor, peep: Tensor | None = None) -> State:
    """eqs 7-11 from one step's pre-activations (i, f, g, o) (B,4H) and c_{t-1} -> (h_t, c_t);
    peep (3,H) = (w_ci, w_cf, w_co) or None."""
    i, f, g, o = gates.chunk(4, dim=-1)
    if peep is not None:
        i = i + peep[0] * c  # eq. 7: w_ci ⊙ c_{t-1}
        f = f + peep[1] * c  # eq. 8: w_cf ⊙ c_{t-1}
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # eq. 9
    if peep is not None:
        o = o + peep[2] * c  # eq. 10: w_co ⊙ c_t
    return torch.sigmoid(o) * torch.tanh(c), c  # eq. 11


class LSTMLayer(nn.Module):
    """One LSTM layer, eqs 7–11. Parameters are laid out as in `nn.LSTM` (gate order i, f, g, o)
    so the fused kernel can use them directly; peepholes are the diagonal w_ci, w_cf, w_co."""

    def __init__(self, input_size: int, hidden_size: int, peepholes: bool = False):
        super().__init__()
        H = hidden_size
        self.input_size, self.hidden_size = input_size, H
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H))
        self.bias_ih = nn.Parameter(torch.empty(4 * H))
        self.bias_hh = nn.Parameter(torch.empty(4 * H))
        self.peep = nn.Parameter(torch.empty(3, H)) if peepholes else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)  # nn.LSTM's default init
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)
        with torch.no_grad():  # forget-gate bias 1: remember by default
            self.bias_ih[self.hidden_size : 2 * self.hidden_size].fill_(1.0)
            self.bias_hh[self.hidden_size : 2 * self.hidden_size].zero_()

    def cell(self, gx: Tensor, h: Tensor, c: Tensor, grad_clip: float = 0.0) -> State:
        """One step given the input part of the pre-activations gx = W_x x_t + b."""
        gates = gx + F.linear(h, self.weight_hh, self.bias_hh)
        return cell_update(clip_grad(gates, grad_clip), c, self.peep)

    def forward(
        self, x: Tensor, h: Tensor, c: Tensor, grad_clip: float = 0.0, batch_first: bool = True
    ) -> tuple[Tensor, State]:
        """x (B,T,I) -> outputs (B,T,H), final (h, c); time-major (T,B,·) if not batch_first
        (what both kernels run on: no transposed copies in or out)."""
        low = gemm_dtype(h)
        if self.peep is None and grad_clip <= 0 and not (low and x.device.type == "cpu"):
            return self._fused(x, h, c, batch_first, low is not None)
        xt = x.transpose(0, 1) if batch_first else x
        if xt.shape[0] == 0:
            return x.new_zeros(*x.shape[:-1], self.hidden_size), (h, c)
        # input projection hoisted (one GEMM, time-major), recurrence in the BPTT kernel
        gx = linear(xt, self.weight_ih, self.bias_ih)
        out, h, c = lstm_scan(gx, h, c, self.weight_hh, self.bias_hh, self.peep, grad_clip)
        return (out.transpose(0, 1) if batch_first else out), (h, c)

    def _fused(
        self, x: Tensor, h: Tensor, c: Tensor, batch_first: bool, autocast_on: bool
    ) -> tuple[Tensor, State]:
        """torch.lstm (oneDNN / cuDNN). Under autocast: fp32 with autocast off (autocast's
        cuDNN RNN wrapper is written for fp16; oneDNN's bf16 RNN ran 0.45x fp32's speed on an
        AMD Zen 4 without AMX)."""
        with no_autocast(x) if autocast_on else contextlib.nullcontext():
            out, h, c = torch.lstm(  # fused kernel, same math as `cell` without peepholes
                x.float() if autocast_on else x,
                (h.unsqueeze(0), c.unsqueeze(0)),
                [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh],
                True,  # has_biases
                1,  # num_layers
                0.0,  # dropout
                self.training,
                False,  # bidirectional
                batch_first,
            )
        return out, (h[0], c[0])

    def forward_ids(
        self, ids: Tensor, rest: Tensor | None, h: Tensor, c: Tensor, grad_clip: float = 0.0
    ) -> tuple[Tensor, State]:
        """Time-major ids (T,B) standing for one-hot vectors in the first V input columns
        (V = input_size minus rest's width), rest (T,B,·) or None in the others -> outputs
        (T,B,H), final (h, c); the same numbers as `forward(cat([one_hot(ids), rest]))`."""
        V = self.input_size - (0 if rest is None else rest.shape[-1])
        w = self.weight_ih
        gx = F.embedding(ids, w[:, :V].t()) + self.bias_ih  # eq. 1: W one_hot(id) = W[:, id]
        if rest is not None:
            gx = gx + linear(rest, w[:, V:])
        if ids.shape[0] == 0:
            return gx.new_zeros(*ids.shape, self.hidden_size), (h, c)
        out, h, c = lstm_scan(gx, h, c, self.weight_hh, self.bias_hh, self.peep, grad_clip)
        return out, (h, c)

    def forward_reference(
        self, x: Tensor, h: Tensor, c: Tensor, grad_clip: float = 0.0
    ) -> tuple[Tensor, State]:
        """The same as `forward`, by `cell` one step at a time under autograd (tests)."""
        gx = F.linear(x, self.weight_ih, self.bias_ih)
        outs = []
        for gx_t in gx.unbind(1):  # unbind, not indexing: keeps backward linear in T
            h, c = self.cell(gx_t, h, c, grad_clip)
            outs.append(h)
        if not outs:
            return x.new_zeros(x.shape[0], 0, self.hidden_size), (h, c)
        return torch.stack(outs, 1), (h, c)


class DeepLSTM(nn.Module):
    """N stacked LSTM layers with Graves' skip connections (eqs 1–3)."""

    def __init__(self, cfg: LSTMConfig):
        super().__init__()
        self.cfg = cfg
        H, In = cfg.hidden_size, cfg.input_size
        sizes = [In + cfg.below_size] + [(In if cfg.skip_input else 0) + H] * (cfg.num_layers - 1)
        self.layers = nn.ModuleList(LSTMLayer(s, H, cfg.peepholes) for s in sizes)
        self.drop = nn.Dropout(cfg.dropout)

    @property
    def output_size(self) -> int:
        return self.cfg.hidden_size * (self.cfg.num_layers if self.cfg.skip_output else 1)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        dtype = self.layers[0].weight_hh.dtype  # fp32 under autocast too
        z = torch.zeros(
            self.cfg.num_layers, batch_size, self.cfg.hidden_size, device=device, dtype=dtype
        )
        return z, z.clone()

    def _layer_input(self, n: int, x: Tensor, below: Tensor | None) -> Tensor:
        if n == 0:
            return x if below is None else torch.cat([x, below], -1)  # eq. 1 (+ eq. 52's w)
        return torch.cat([x, below], -1) if self.cfg.skip_input else below  # eq. 2

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        below: Tensor | None = None,
        batch_first: bool = True,
    ) -> tuple[Tensor, State]:
        """x (B,T,I), or (B,T) integer ids of one-hot inputs (module docstring), below
        (B,T,below_size) or None -> (every layer's h concatenated (B,T,N·H), or the top
        layer's (B,T,H) without skip_output, final state). batch_first=False: x, below and
        the output are (T,B,·); batch_first=True returns a transposed view of the time-major
        result."""
        ids = not x.is_floating_point()
        if state is None:
            state = self.initial_state(x.shape[0 if batch_first else 1], x.device)
        if batch_first:  # run time-major, as both kernels do: one transposed view in and out
            x = x.transpose(0, 1)
            below = below.transpose(0, 1) if below is not None else None
        h0, c0 = state
        outs, hs, cs = [], [], []
        for n, layer in enumerate(self.layers):
            clip = self.cfg.grad_clip
            if ids and (n == 0 or self.cfg.skip_input):
                out, (h, c) = layer.forward_ids(x, below, h0[n], c0[n], clip)
            else:
                inp = self._layer_input(n, x, below)
                out, (h, c) = layer(inp, h0[n], c0[n], clip, batch_first=False)
            below = self.drop(out)
            outs.append(below)
            hs.append(h)
            cs.append(c)
        out = self._output(outs)
        return (out.transpose(0, 1) if batch_first else out), (torch.stack(hs), torch.stack(cs))

    def _output(self, outs: list[Tensor]) -> Tensor:
        if not self.cfg.skip_output or len(outs) == 1:  # the top layer only: no copy
            return outs[-1]
        return torch.cat(outs, -1)  # eq. 3's inputs, for the head

    def step(
        self, x: Tensor, state: State | None = None, below: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """One time step: x (B,I), or (B,) one-hot ids -> (every layer's h concatenated
        (B,N·H), or the top layer's without skip_output, new state)."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        if not x.is_floating_point():  # a one-hot row: dense is cheap for one step
            x = F.one_hot(x, self.cfg.input_size).to(self.layers[0].weight_ih.dtype)
        h0, c0 = state
        outs, hs, cs = [], [], []
        for n, layer in enumerate(self.layers):
            gx = F.linear(self._layer_input(n, x, below), layer.weight_ih, layer.bias_ih)
            h, c = layer.cell(gx, h0[n], c0[n])
            below = self.drop(h)
            outs.append(below)
            hs.append(h)
            cs.append(c)
        return self._output(outs), (torch.stack(hs), torch.stack(cs))
