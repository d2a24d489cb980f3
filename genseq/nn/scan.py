"""Hand-written BPTT kernels for the recurrences autograd would otherwise unroll step by step.

`lstm_scan`: one LSTM layer (eqs 7-11) over a sequence given its hoisted input projection, with
optional peepholes and Graves' clip of the pre-activation derivatives (the cases the fused
`torch.lstm` kernel cannot do). `synth_scan`: SynthesisNet's layer 1 and soft window together
(eqs 46-52), the part of §5's network that has to be stepped.

Why: eager autograd records ~25 nodes per step and takes the weight gradients as T small GEMMs
with a reduction over B only. Here the forward runs the cell with in-place ops into
preallocated (T, B, ·) buffers, the backward runs one step loop of elementwise ops plus one
GEMM for the recurrent derivative, and every weight gradient is one GEMM over all T·B rows
after the loop. The GEMMs: `genseq.nn.gemm` (oneDNN on CPU float32, 2-3x faster than torch's
BLAS call here; addmm elsewhere); the in-place cell: `genseq.nn.cell`.
The results equal the step-by-step reference paths (`LSTMLayer.forward_reference`,
`SynthesisNet.forward_stepped`) to rounding; tests check values and gradients (gradcheck).

bf16 (`genseq.nn.precision`): called under bf16 autocast, both kernels run their GEMMs in bf16
(weights cast once per sequence, per-step operands kept in bf16 shadow buffers written as each
step finishes, so the weight gradients are one bf16 GEMM over all steps) and everything else
in fp32: gate pre-activations = fp32 input part + bf16 GEMM result, cell state, window, κ.
Inside, autocast is off; outputs are fp32.

Layout: time-major (T, B, ·) inside; gate order i, f, g, o as in `nn.LSTM`. Not twice
differentiable (backward is not itself recorded).

This module holds `lstm_scan`; `synth_scan` lives in `genseq.nn.synth_scan` and is importable
from here, as are the GEMM helpers and the cell (`Linear`, `mm`, `linear`, `cell_forward`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from genseq.nn.cell import cell_backward, cell_forward, peep_grad, shadow
from genseq.nn.clip import clip_threshold
from genseq.nn.gemm import Linear, grad_weight, linear, mm
from genseq.nn.precision import gemm_dtype, no_autocast
from genseq.nn.synth_scan import synth_scan

__all__ = ["Linear", "cell_forward", "grad_weight", "linear", "lstm_scan", "mm", "synth_scan"]


class _LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gx, h0, c0, w_hh, b_hh, peep, clip, low):  # type: ignore[override]
        with no_autocast(gx):
            T, B, G = gx.shape
            H = G // 4
            gxb = gx + b_hh  # fp32 (a bf16 gx is promoted)
            Hs = h0.new_empty(T + 1, B, H)  # h_0 .. h_T
            C = h0.new_empty(T + 1, B, H)  # c_0 .. c_T
            TC = h0.new_empty(T, B, H)  # tanh(c_1) .. tanh(c_T)
            Hs[0], C[0] = h0, c0
            Hl = shadow(Hs, low)  # bf16 path: h_t as the GEMMs read it
            Hr = Hs if Hl is None else Hl
            if Hl is not None:
                Hl[0] = h0
            rec = Linear(w_hh, B, low)
            A = []  # per step: pre-activations, then (in place) activations, kept for backward
            for t in range(T):
                A.append(rec(Hr[t], add=gxb[t]))  # eqs 7-10's W_h h_{t-1} + W_x x_t + b
                cell_forward(A[t], C[t], C[t + 1], TC[t], Hs[t + 1], peep)
                if Hl is not None:
                    Hl[t + 1].copy_(Hs[t + 1])
        ctx.save_for_backward(w_hh, peep)
        ctx.buf, ctx.clip, ctx.low = (A, Hr, C, TC), clip, low
        return Hs[1:], Hs[T].clone(), C[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dHs, dhT, dcT):  # type: ignore[override]
        w_hh, peep = ctx.saved_tensors
        A, Hr, C, TC = ctx.buf
        T, B, H = TC.shape
        G, clip, low = 4 * H, ctx.clip, ctx.low
        with no_autocast(w_hh):
            D = C.new_empty(T, B, G)  # dL/d pre-activations, unclipped
            Dc = torch.empty_like(D) if clip > 0 else D  # ... clipped: what reaches W, x, h
            Dl = shadow(Dc, low)  # bf16 path: Dc as the GEMMs read it
            Dr = Dc if Dl is None else Dl
            dHs = dHs.contiguous()
            back = Linear(w_hh.t(), B, low)  # d pre-activations -> dL/dh_{t-1}
            dh = dHs[T - 1] + dhT if T > 0 else dhT
            dc = dcT
            for t in range(T - 1, -1, -1):
                if t < T - 1:
                    dh = back(Dr[t + 1], add=dHs[t])
                dc = cell_backward(A[t], C[t], TC[t], dh, dc, D[t], peep)
                if clip > 0:
                    torch.clamp(D[t], -clip, clip, out=Dc[t])
                if Dl is not None:
                    Dl[t].copy_(Dc[t])
            flat = Dc.view(T * B, G)
            dw_hh = grad_weight(Dr.view(T * B, G), Hr[:-1].reshape(T * B, H), low)
            db_hh = flat.sum(0)
            dh0 = Dc[0] @ w_hh if T > 0 else dh
            dpeep = peep_grad(D, C, H) if peep is not None else None
        return Dc, dh0, dc, dw_hh, db_hh, dpeep, None, None


def lstm_scan(
    gx: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_hh: Tensor,
    b_hh: Tensor,
    peep: Tensor | None = None,
    clip: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """gx (T,B,4H) = W_ih x_t + b_ih for every t, h0, c0 (B,H) -> h_1..h_T (T,B,H), h_T, c_T.
    clip > 0: dL/d pre-activations clamped to [-clip, clip] (not the peephole terms).
    Under bf16 autocast the GEMMs run in bf16 (module docstring); h0, c0 are fp32."""
    clip = clip_threshold(clip)  # per sequence: genseq.nn.clip
    low = gemm_dtype(h0)
    return _LSTMScan.apply(gx, h0, c0, w_hh, b_hh, peep, float(clip), low)
