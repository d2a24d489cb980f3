"""The LSTM cell of the scan kernels, in place: one step forward (eqs 7-11) into
preallocated buffers, one step back, and the peephole weights' gradient.

Gate order i, f, g, o as in `nn.LSTM`; shapes (B, 4H) per step, (T, B, ·) over a sequence.
"""

from __future__ import annotations

import torch
from torch import Tensor

_sig_bw = torch.ops.aten.sigmoid_backward.grad_input  # (grad, sigmoid(x)) -> grad * s (1 - s)
_tanh_bw = torch.ops.aten.tanh_backward.grad_input  # (grad, tanh(x)) -> grad * (1 - t²)
_tanh_bw_fn = torch.ops.aten.tanh_backward.default


def cell_forward(
    g: Tensor, c: Tensor, c_out: Tensor, tc_out: Tensor, h_out: Tensor, peep: Tensor | None
) -> None:
    """In place: g (B,4H) pre-activations -> activations (σi, σf, tanh g, σo); writes
    c_t, tanh(c_t), h_t into the given buffers (eqs 7-11)."""
    H = c.shape[-1]
    i_f, gg, o = g[:, : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
    if peep is not None:  # eqs 7-8: + w_ci ⊙ c_{t-1}, + w_cf ⊙ c_{t-1}
        i_f.view(-1, 2, H).addcmul_(peep[:2], c.unsqueeze(1))
    i_f.sigmoid_()
    gg.tanh_()
    torch.mul(i_f[:, H:], c, out=c_out)  # eq 9
    c_out.addcmul_(i_f[:, :H], gg)
    if peep is not None:  # eq 10: + w_co ⊙ c_t
        o.addcmul_(peep[2], c_out)
    o.sigmoid_()
    torch.tanh(c_out, out=tc_out)
    torch.mul(o, tc_out, out=h_out)  # eq 11


def cell_backward(
    a: Tensor,
    c_prev: Tensor,
    tc: Tensor,
    dh: Tensor,
    dc: Tensor,
    d: Tensor,
    peep: Tensor | None,
) -> Tensor:
    """One step back: activations a (B,4H), c_{t-1}, tanh(c_t), dL/dh_t, dL/dc_t (from t+1)
    -> writes dL/d pre-activations (unclipped) into d (B,4H), returns dL/dc_{t-1}."""
    H = c_prev.shape[-1]
    si, sf, tg, so = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    di, df, dg, do = d[:, :H], d[:, H : 2 * H], d[:, 2 * H : 3 * H], d[:, 3 * H :]
    _sig_bw(dh * tc, so, grad_input=do)
    dc = dc + _tanh_bw_fn(dh * so, tc)
    if peep is not None:
        dc.addcmul_(do, peep[2])
    _sig_bw(dc * tg, si, grad_input=di)
    _sig_bw(dc * c_prev, sf, grad_input=df)
    _tanh_bw(dc * si, tg, grad_input=dg)
    dc_prev = dc * sf
    if peep is not None:
        dc_prev.addcmul_(di, peep[0]).addcmul_(df, peep[1])
    return dc_prev


def peep_grad(D: Tensor, C: Tensor, H: int) -> Tensor:
    """dL/d(w_ci, w_cf, w_co) (3,H) from unclipped D (T,B,4H) and C = (c_0..c_T) (T+1,B,H)."""
    return torch.stack(
        [
            (D[..., :H] * C[:-1]).sum((0, 1)),
            (D[..., H : 2 * H] * C[:-1]).sum((0, 1)),
            (D[..., 3 * H :] * C[1:]).sum((0, 1)),
        ]
    )


def shadow(x: Tensor, low: torch.dtype | None) -> Tensor | None:
    """An empty `low` copy of x's shape (the GEMM operands of the bf16 path), or None."""
    return None if low is None else torch.empty_like(x, dtype=low)
