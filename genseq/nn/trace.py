"""What a DeepLSTM's cells do over a sequence: every layer's gates, cell and hidden state at
every step (eqs 7-11), for looking at them (e.g. the notebook's plot over a sentence).

`trace_lstm` runs the same equations as `DeepLSTM.forward` / `step` (the same parameters,
`cell_update` for c_t and h_t) one step at a time and keeps what the fused kernels do not
expose: the gate activations i_t, f_t, o_t and the cell input tanh(g_t).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genseq.nn.lstm import DeepLSTM, State, cell_update


@dataclass
class LayerTrace:
    """One layer's activations, each (B, T, H)."""

    input_gate: Tensor  # i_t, eq. 7
    forget_gate: Tensor  # f_t, eq. 8
    cell_input: Tensor  # tanh(W_xc x_t + W_hc h_{t-1} + b_c), the candidate of eq. 9
    cell: Tensor  # c_t, eq. 9
    output_gate: Tensor  # o_t, eq. 10
    hidden: Tensor  # h_t, eq. 11


@torch.no_grad()
def trace_lstm(
    lstm: DeepLSTM, x: Tensor, state: State | None = None, below: Tensor | None = None
) -> list[LayerTrace]:
    """x (B, T, I) (and `below` (B, T, below_size) for layer 1, eq. 52) -> one `LayerTrace`
    per layer, bottom first. Dropout is not applied (the network as it predicts). x may be
    (B, T) integer ids of one-hot inputs, as `DeepLSTM.forward` takes them."""
    if not x.is_floating_point():  # one-hot ids (a text model whose vocabulary > hidden)
        x = F.one_hot(x, lstm.cfg.input_size).to(lstm.layers[0].weight_ih.dtype)
    B, T = x.shape[0], x.shape[1]
    h0, c0 = state if state is not None else lstm.initial_state(B, x.device)
    traces = []
    below_n = below
    for n, layer in enumerate(lstm.layers):
        inp = lstm._layer_input(n, x, below_n)
        gx = F.linear(inp, layer.weight_ih, layer.bias_ih)  # (B, T, 4H)
        h, c = h0[n], c0[n]
        keep: dict[str, list[Tensor]] = {k: [] for k in ("i", "f", "g", "c", "o", "h")}
        for t in range(T):
            gates = gx[:, t] + F.linear(h, layer.weight_hh, layer.bias_hh)
            i, f, g, o = gates.chunk(4, dim=-1)
            if layer.peep is not None:
                i = i + layer.peep[0] * c  # eq. 7
                f = f + layer.peep[1] * c  # eq. 8
            h, c = cell_update(gates, c, layer.peep)  # eqs 7-11, as the network runs them
            if layer.peep is not None:
                o = o + layer.peep[2] * c  # eq. 10
            for k, v in zip("ifgcoh", (i.sigmoid(), f.sigmoid(), g.tanh(), c, o.sigmoid(), h),
                            strict=True):  # fmt: skip
                keep[k].append(v)
        out = {k: torch.stack(v, 1) if v else x.new_zeros(B, 0, layer.hidden_size)
               for k, v in keep.items()}  # fmt: skip
        traces.append(LayerTrace(out["i"], out["f"], out["g"], out["c"], out["o"], out["h"]))
        below_n = out["h"]
    return traces
