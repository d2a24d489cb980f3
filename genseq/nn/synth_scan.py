"""SynthesisNet's layer 1 and soft window as one hand-written BPTT kernel (eqs 46-52): the
part of §5's network that has to be stepped. See `genseq.nn.scan` for why hand-written
kernels, and the bf16 contract both kernels keep.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from genseq.nn.cell import cell_backward, cell_forward, peep_grad, shadow
from genseq.nn.clip import clip_threshold
from genseq.nn.gemm import Linear, grad_weight
from genseq.nn.precision import gemm_dtype, no_autocast

# eq 46's exponent is floored here: exp(-80) ~ 2e-35 is far below anything that matters, and
# exp() of large negative arguments (denormal results) is several times slower on CPU.
_Z_MIN = -80.0


class _SynthScan(torch.autograd.Function):
    """Layer 1 + window, fused: eq 52 and eqs 7-11 (layer 1), eqs 48-51 and 46-47 (the
    window, written once in `genseq.nn.window`, here again in place with its hand-written
    backward). Per step: gates = b + [x_t, w_{t-1}, h_{t-1}] W^T with W = [W_ih, W_hh] (W_ih
    reads [x, w], eq 52) and b = b_ih + b_hh; the cell gives h_t; (α̂, β̂, κ̂) = W_p h_t + b_p;
    β = exp β̂, κ_t = κ_{t-1} + exp κ̂; φ(u) = Σ_k exp(α̂_k - β_k (κ_k - u)²);
    w_t = Σ_{u<=U} φ(u) c_u. tests/nn/test_scan.py::test_synth_scan_equals_autograd_loop
    proves values and every gradient equal to `LSTMLayer.cell` + `SoftWindow` stepped under
    autograd (and ::test_synth_scan_gradcheck the backward against finite differences).

    x_t rides in the per-step GEMM (3 more columns) rather than in a hoisted input
    projection: a K = 3 GEMM over the sequence, its bias add and its (T,B,4H) result cost
    more than the 3 columns."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x, w_ih, w_hh, b_ih, b_hh, peep, w_p, b_p, chars, u, h0, c0, kappa0, w0, clip, low
    ):
        with no_autocast(x):
            return _SynthScan._forward(
                ctx, x, w_ih, w_hh, b_ih, b_hh, peep, w_p, b_p, chars, u, h0, c0, kappa0, w0,
                clip, low,
            )  # fmt: skip

    @staticmethod
    def _forward(ctx, x, w_ih, w_hh, b_ih, b_hh, peep, w_p, b_p, chars, u, h0, c0, kappa0, w0,
                 clip, low):  # fmt: skip
        T, B, X = x.shape
        H, K, U = w_hh.shape[1], w_p.shape[0] // 3, chars.shape[1]
        A = w_ih.shape[1] - X
        W = torch.cat([w_ih, w_hh], 1)  # (4H, X+A+H)
        rec, wp_t, bias = Linear(W, B, low), w_p.t(), b_ih + b_hh
        Ag = []  # per step: pre-activations, then (in place) activations
        Z = x.new_empty(T + 1, B, X + A + H)  # row t: [x_t, w_{t-1}, h_{t-1}]; row T: no x
        C = x.new_empty(T + 1, B, H)
        TC = x.new_empty(T, B, H)
        P = x.new_empty(T, B, 3 * K)  # (α̂, β̂, κ̂)
        EX = x.new_empty(T, B, 2 * K)  # (β, exp κ̂)
        KAP = x.new_empty(T + 1, B, K)  # κ_0 .. κ_T
        PHI = x.new_empty(T, B, U + 1)
        Z[:T, :, :X], Z[T, :, :X] = x, 0.0
        Z[0, :, X : X + A], Z[0, :, X + A :], C[0], KAP[0] = w0, h0, c0, kappa0
        Zl = shadow(Z, low)  # bf16 path: the rows of Z as the GEMMs read them
        Zr = Z if Zl is None else Zl
        if Zl is not None:
            Zl[:, :, :X], Zl[0] = Z[:, :, :X], Z[0]
        for t in range(T):
            Ag.append(rec(Zr[t], bias=bias))  # eq 52
            h = Z[t + 1, :, X + A :]
            cell_forward(Ag[t], C[t], C[t + 1], TC[t], h, peep)
            torch.addmm(b_p, h, wp_t, out=P[t])  # eq 48
            torch.exp(P[t, :, K:], out=EX[t])  # eqs 50-51
            torch.add(KAP[t], EX[t, :, K:], out=KAP[t + 1])
            d = KAP[t + 1].unsqueeze(-1) - u  # (B,K,U+1)
            e = P[t, :, :K].unsqueeze(-1) - EX[t, :, :K].unsqueeze(-1) * (d * d)
            e = e.clamp_min_(_Z_MIN).exp_()
            torch.sum(e, 1, out=PHI[t])  # eq 46
            torch.bmm(
                PHI[t, :, :U].unsqueeze(1), chars, out=Z[t + 1, :, X : X + A].unsqueeze(1)
            )  # eq 47
            if Zl is not None:
                Zl[t + 1, :, X:].copy_(Z[t + 1, :, X:])
        ctx.save_for_backward(W, peep, w_p, chars, u)
        ctx.buf = (Ag, Z, Zr, C, TC, P, EX, KAP)
        ctx.clip, ctx.XA, ctx.low = clip, (X, A), low
        Hs, Ws = Z[1:, :, X + A :].contiguous(), Z[1:, :, X : X + A].contiguous()
        return Hs, Ws, PHI, C[T].clone(), KAP[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dHs, dWs, dPHI, dcT, dkT):  # type: ignore[override]
        with no_autocast(dHs):
            return _SynthScan._backward(ctx, dHs, dWs, dPHI, dcT, dkT)

    @staticmethod
    def _backward(ctx, dHs, dWs, dPHI, dcT, dkT):
        W, peep, w_p, chars, u = ctx.saved_tensors
        Ag, Z, Zr, C, TC, P, EX, KAP = ctx.buf
        clip, (X, A), low = ctx.clip, ctx.XA, ctx.low
        T, B, H = TC.shape
        G, K = 4 * H, w_p.shape[0] // 3
        D = Z.new_empty(T, B, G)
        Dc = torch.empty_like(D) if clip > 0 else D
        Dl = shadow(Dc, low)  # bf16 path: Dc as the GEMMs read it
        Dr = Dc if Dl is None else Dl
        DP = Z.new_empty(T, B, 3 * K)  # dL/d(α̂, β̂, κ̂)
        dwh = Z.new_zeros(B, A + H)  # dL/d[w_t, h_t] through step t+1's gates
        dHs, dWs = dHs.contiguous(), dWs.contiguous()
        back = Linear(W[:, X:].t(), B, low)  # d pre-activations -> dL/d[w_{t-1}, h_{t-1}]
        dc, dk = dcT, dkT
        for t in range(T - 1, -1, -1):
            dw = dWs[t] + dwh[:, :A]
            dk = _window_backward(P[t], EX[t], KAP[t + 1], u, chars, dPHI[t], dw, dk, DP[t])
            dh = torch.addmm(dHs[t] + dwh[:, A:], DP[t], w_p)  # eq 48 + h_t's other uses
            dc = cell_backward(Ag[t], C[t], TC[t], dh, dc, D[t], peep)
            if clip > 0:
                torch.clamp(D[t], -clip, clip, out=Dc[t])
            if Dl is not None:
                Dl[t].copy_(Dc[t])
            dwh = back(Dr[t])
        dx, dW, db, dwp, dbp = _weight_grads(ctx, W, Z, Zr, Dc, Dr, DP)
        dpeep = peep_grad(D, C, H) if peep is not None else None
        return (
            dx,
            dW[:, : X + A],
            dW[:, X + A :],
            db,
            db,
            dpeep,
            dwp,
            dbp,
            None,
            None,
            dwh[:, A:],
            dc,
            dk,
            dwh[:, :A],
            None,
            None,
        )


def _window_backward(
    p: Tensor,
    ex: Tensor,
    kappa: Tensor,
    u: Tensor,
    chars: Tensor,
    dphi_out: Tensor,
    dw: Tensor,
    dk: Tensor,
    dp: Tensor,
) -> Tensor:
    """One step of the window (eqs 46-51) backward. p (B,3K) = (α̂, β̂, κ̂), ex (B,2K) =
    (β, exp κ̂), kappa (B,K) = κ_t, dphi_out (B,U+1) = dL/dφ_t from outside, dw (B,A) = dL/dw_t,
    dk (B,K) = dL/dκ_t from step t+1 -> writes dL/d(α̂, β̂, κ̂) into dp (B,3K), returns dL/dκ_t
    in full (what flows to step t-1). The exponent e is recomputed from the saved (α̂, β, κ_t)."""
    K, U = kappa.shape[1], chars.shape[1]
    beta, ek = ex[:, :K], ex[:, K:]
    d = kappa.unsqueeze(-1) - u
    e = (p[:, :K].unsqueeze(-1) - beta.unsqueeze(-1) * (d * d)).clamp_min_(_Z_MIN).exp_()
    dphi = dphi_out.clone()
    dphi[:, :U] += torch.bmm(chars, dw.unsqueeze(-1)).squeeze(-1)  # eq 47
    ge = e.mul_(dphi.unsqueeze(1))  # dL/d exponent (B,K,U+1)
    ged = ge * d
    torch.sum(ge, -1, out=dp[:, :K])  # α̂
    torch.mul((ged * d).sum(-1), beta, out=dp[:, K : 2 * K]).neg_()  # β̂ = log β
    dk = dk - 2.0 * beta * ged.sum(-1)  # κ_t
    torch.mul(dk, ek, out=dp[:, 2 * K :])  # κ̂
    return dk


def _weight_grads(
    ctx, W: Tensor, Z: Tensor, Zr: Tensor, Dc: Tensor, Dr: Tensor, DP: Tensor
) -> tuple[Tensor | None, Tensor, Tensor, Tensor, Tensor]:
    """After the step loop, one GEMM per weight over all T·B rows: dL/dx (None when x needs
    none), dL/d[W_ih, W_hh], dL/db (both biases), dL/dW_p, dL/db_p."""
    T, B, G = Dc.shape
    (X, A), low = ctx.XA, ctx.low
    H, K3 = G // 4, DP.shape[-1]
    flat = Dc.view(T * B, G)
    dW = grad_weight(Dr.view(T * B, G), Zr[:-1].reshape(T * B, X + A + H), low)
    hs = Z[1:, :, X + A :].reshape(T * B, H)
    dwp = grad_weight(DP.view(T * B, K3), hs)
    db = flat.sum(0)
    dx = (flat @ W[:, :X]).view(T, B, X) if ctx.needs_input_grad[0] else None
    return dx, dW, db, dwp, DP.view(T * B, K3).sum(0)


def synth_scan(
    x: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    peep: Tensor | None,
    w_p: Tensor,
    b_p: Tensor,
    chars: Tensor,
    u: Tensor,
    h0: Tensor,
    c0: Tensor,
    kappa0: Tensor,
    w0: Tensor,
    clip: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """x (T,B,X) layer 1's pen inputs, time-major; w_ih (4H, X+A) its input weights over
    [x, w] (eq 52), w_hh, b_ih, b_hh, peep as in `LSTMLayer`; w_p, b_p the window's
    projection (3K,H), (3K,); chars (B,U,A) masked one-hot; u (U+1,); state h0, c0 (B,H),
    kappa0 (B,K), w0 (B,A) -> h_1..h_T (T,B,H), w_1..w_T (T,B,A), φ (T,B,U+1), c_T, κ_T.
    Under bf16 autocast the layer's GEMMs run in bf16 (module docstring), the window in fp32."""
    clip = clip_threshold(clip)  # per sequence: genseq.nn.clip
    low = gemm_dtype(x)
    return _SynthScan.apply(
        x, w_ih, w_hh, b_ih, b_hh, peep, w_p, b_p, chars, u, h0, c0, kappa0, w0, float(clip), low
    )
