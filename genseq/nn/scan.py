"""Hand-written BPTT kernels for the recurrences autograd would otherwise unroll step by step.

`lstm_scan`: one LSTM layer (eqs 7-11) over a sequence given its hoisted input projection, with
optional peepholes and Graves' clip of the pre-activation derivatives (the cases the fused
`torch.lstm` kernel cannot do). `synth_scan`: SynthesisNet's layer 1 and soft window together
(eqs 46-52), the part of §5's network that has to be stepped.

Why: eager autograd records ~25 nodes per step and takes the weight gradients as T small GEMMs
with a reduction over B only. Here the forward runs the cell with in-place ops into
preallocated (T, B, ·) buffers, the backward runs one step loop of elementwise ops plus one
GEMM for the recurrent derivative, and every weight gradient is one GEMM over all T·B rows
after the loop. On CPU (float32) the GEMMs go through oneDNN: the per-step ones with the
weight packed once per sequence (`Linear`), the large ones through `mm` / `linear`; that is
2-3x faster than torch's BLAS call here (MKL on AMD EPYC). Elsewhere (float64, GPU) addmm.
The results equal the step-by-step reference paths (`LSTMLayer.forward_reference`,
`SynthesisNet.forward_stepped`) to rounding; tests check values and gradients (gradcheck).

bf16 (`genseq.nn.precision`): called under bf16 autocast, both kernels run their GEMMs in bf16
(weights cast once per sequence, per-step operands kept in bf16 shadow buffers written as each
step finishes, so the weight gradients are one bf16 GEMM over all steps) and everything else
in fp32: gate pre-activations = fp32 input part + bf16 GEMM result, cell state, window, κ.
Inside, autocast is off; outputs are fp32.

Layout: time-major (T, B, ·) inside; gate order i, f, g, o as in `nn.LSTM`. Not twice
differentiable (backward is not itself recorded).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from genseq.nn.clip import clip_threshold
from genseq.nn.precision import gemm_dtype, no_autocast

_sig_bw = torch.ops.aten.sigmoid_backward.grad_input  # (grad, sigmoid(x)) -> grad * s (1 - s)
_tanh_bw = torch.ops.aten.tanh_backward.grad_input  # (grad, tanh(x)) -> grad * (1 - t²)
_tanh_bw_fn = torch.ops.aten.tanh_backward.default
_MKLDNN_OK: bool | None = None


def _mkldnn_ok() -> bool:
    """Whether this torch has oneDNN's packed-weight linear (the op Inductor uses on CPU)."""
    global _MKLDNN_OK
    if _MKLDNN_OK is None:
        try:
            w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(4, 3), 2)
            y = torch.ops.mkldnn._linear_pointwise(torch.ones(2, 3), w, None, "none", [], "")
            _MKLDNN_OK = bool(torch.equal(y, torch.full((2, 4), 3.0)))
        except (AttributeError, RuntimeError, NotImplementedError):
            _MKLDNN_OK = False
    return _MKLDNN_OK


def _onednn(*ts: Tensor) -> bool:
    return _mkldnn_ok() and all(
        t.device.type == "cpu" and t.dtype == torch.float32 and t.numel() > 0 for t in ts
    )


def mm(a: Tensor, b: Tensor, low: torch.dtype | None = None) -> Tensor:
    """a @ b (2-D). CPU float32: through oneDNN, which runs the large GEMMs of a training step
    ~2x faster than torch's BLAS (MKL's sgemm) on some CPUs (AMD EPYC here). low (bf16): the
    product of a and b rounded to `low` (fp32 accumulation), returned as fp32."""
    if low is not None:
        return torch.matmul(a.to(low), b.to(low)).float()
    if _onednn(a, b):
        a, w = _dense(a), _dense(b.t())
        return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")
    return a @ b


def grad_weight(d: Tensor, x: Tensor, low: torch.dtype | None = None) -> Tensor:
    """dL/dW = d^T x (out, in) of y = x W^T, over N rows: d (N, out), x (N, in). oneDNN
    copies its transposed left operand to row-major first, so the narrower of d and x goes
    on the left: d^T x, or (x^T d)^T. 5-20 % faster per weight gradient than the other order."""
    if d.shape[1] <= x.shape[1]:
        return mm(d.t(), x, low)
    return mm(x.t(), d, low).t()


def _dense(t: Tensor) -> Tensor:
    """t itself if it is row- or column-major, else a row-major copy (oneDNN is slow on other
    strides)."""
    return t if t.is_contiguous() or t.t().is_contiguous() else t.contiguous()


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):  # type: ignore[override]
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, w)
        ctx.has_bias, ctx.shape = b is not None, x.shape
        y = torch.ops.mkldnn._linear_pointwise(x2, w, b, "none", [], "")
        return y.view(*x.shape[:-1], w.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):  # type: ignore[override]
        x2, w = ctx.saved_tensors
        dy2 = dy.reshape(-1, dy.shape[-1])
        need = ctx.needs_input_grad
        dx = mm(dy2, w).view(ctx.shape) if need[0] else None
        dw = grad_weight(dy2, x2) if need[1] else None
        db = dy2.sum(0) if ctx.has_bias and need[2] else None
        return dx, dw, db


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """F.linear; CPU float32 forward and backward GEMMs through oneDNN (see `mm`). Under
    autocast: F.linear, which autocast runs in its low dtype (the result is bf16)."""
    if gemm_dtype(x) is None and _onednn(x, w):
        return _OneDNNLinear.apply(x, w, b)
    return F.linear(x, w, b)


class Linear:
    """x W^T (+ add) for a weight W used at every step of a loop. CPU float32 with batch >= 2:
    oneDNN with W packed once (2-3x faster than addmm at batch 8-32, where the per-step GEMMs
    live). Batch 1 (sampling one line), float64, GPU: addmm on W^T stored row-major, which
    makes the CPU matrix-vector product ~1.2-1.6x faster than oneDNN's or F.linear's at
    batch 1 (`genseq bench` "sample 1 line").

    low (bf16): W cast once (CPU: packed for oneDNN at every batch size), x cast to `low` if it
    is not already; the product is rounded to `low` and the result (+ add, + bias) is fp32."""

    def __init__(self, w: Tensor, batch: int, low: torch.dtype | None = None):
        self.w_t = w.t()
        self.packed = None
        self.low = low
        cpu32 = w.device.type == "cpu" and w.dtype == torch.float32
        if low is not None:
            wl = w.detach().to(low).contiguous()
            if w.device.type == "cpu" and _mkldnn_ok():
                self.packed = torch.ops.mkldnn._reorder_linear_weight(wl, max(batch, 1))
            else:
                self.w_t = wl.t()
        elif cpu32 and batch > 1 and _mkldnn_ok():
            self.packed = torch.ops.mkldnn._reorder_linear_weight(w.detach().contiguous(), batch)
        elif cpu32 and batch == 1:
            self.w_t = w.detach().t().contiguous()

    def __call__(self, x: Tensor, add: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
        if self.low is not None:
            return self._low(x, add, bias)
        if self.packed is not None and x.shape[0] > 0:
            if add is None:
                return torch.ops.mkldnn._linear_pointwise(x, self.packed, bias, "none", [], "")
            return torch.ops.mkldnn._linear_pointwise.binary(x, add, self.packed, bias, "add")
        if add is None:
            return x @ self.w_t if bias is None else torch.addmm(bias, x, self.w_t)
        out = torch.addmm(add, x, self.w_t)
        return out if bias is None else out.add_(bias)

    def _low(self, x: Tensor, add: Tensor | None, bias: Tensor | None) -> Tensor:
        x = x.to(self.low)
        if self.packed is not None and x.shape[0] > 0:
            y = torch.ops.mkldnn._linear_pointwise(x, self.packed, None, "none", [], "")
        else:
            y = x @ self.w_t
        if add is None and bias is None:
            return y.float()
        out = torch.add(add if add is not None else bias, y)  # fp32 (type promotion)
        return out.add_(bias) if add is not None and bias is not None else out


# eq 46's exponent is floored here: exp(-80) ~ 2e-35 is far below anything that matters, and
# exp() of large negative arguments (denormal results) is several times slower on CPU.
_Z_MIN = -80.0


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


def _cell_backward(
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


def _peep_grad(D: Tensor, C: Tensor, H: int) -> Tensor:
    """dL/d(w_ci, w_cf, w_co) (3,H) from unclipped D (T,B,4H) and C = (c_0..c_T) (T+1,B,H)."""
    return torch.stack(
        [
            (D[..., :H] * C[:-1]).sum((0, 1)),
            (D[..., H : 2 * H] * C[:-1]).sum((0, 1)),
            (D[..., 3 * H :] * C[1:]).sum((0, 1)),
        ]
    )


def _shadow(x: Tensor, low: torch.dtype | None) -> Tensor | None:
    """An empty `low` copy of x's shape (the GEMM operands of the bf16 path), or None."""
    return None if low is None else torch.empty_like(x, dtype=low)


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
            Hl = _shadow(Hs, low)  # bf16 path: h_t as the GEMMs read it
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
            Dl = _shadow(Dc, low)  # bf16 path: Dc as the GEMMs read it
            Dr = Dc if Dl is None else Dl
            dHs = dHs.contiguous()
            back = Linear(w_hh.t(), B, low)  # d pre-activations -> dL/dh_{t-1}
            dh = dHs[T - 1] + dhT if T > 0 else dhT
            dc = dcT
            for t in range(T - 1, -1, -1):
                if t < T - 1:
                    dh = back(Dr[t + 1], add=dHs[t])
                dc = _cell_backward(A[t], C[t], TC[t], dh, dc, D[t], peep)
                if clip > 0:
                    torch.clamp(D[t], -clip, clip, out=Dc[t])
                if Dl is not None:
                    Dl[t].copy_(Dc[t])
            flat = Dc.view(T * B, G)
            dw_hh = grad_weight(Dr.view(T * B, G), Hr[:-1].reshape(T * B, H), low)
            db_hh = flat.sum(0)
            dh0 = Dc[0] @ w_hh if T > 0 else dh
            dpeep = _peep_grad(D, C, H) if peep is not None else None
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
        Zl = _shadow(Z, low)  # bf16 path: the rows of Z as the GEMMs read them
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
        G, K, U = 4 * H, w_p.shape[0] // 3, chars.shape[1]
        D = Z.new_empty(T, B, G)
        Dc = torch.empty_like(D) if clip > 0 else D
        Dl = _shadow(Dc, low)  # bf16 path: Dc as the GEMMs read it
        Dr = Dc if Dl is None else Dl
        DP = Z.new_empty(T, B, 3 * K)  # dL/d(α̂, β̂, κ̂)
        dwh = Z.new_zeros(B, A + H)  # dL/d[w_t, h_t] through step t+1's gates
        dHs, dWs = dHs.contiguous(), dWs.contiguous()
        back = Linear(W[:, X:].t(), B, low)  # d pre-activations -> dL/d[w_{t-1}, h_{t-1}]
        dc, dk = dcT, dkT
        for t in range(T - 1, -1, -1):
            dw = dWs[t] + dwh[:, :A]
            # window (eqs 46-51) backward; e recomputed from the saved (α̂, β, κ_t)
            beta, ek = EX[t, :, :K], EX[t, :, K:]
            d = KAP[t + 1].unsqueeze(-1) - u
            e = (P[t, :, :K].unsqueeze(-1) - beta.unsqueeze(-1) * (d * d)).clamp_min_(_Z_MIN).exp_()
            dphi = dPHI[t].clone()
            dphi[:, :U] += torch.bmm(chars, dw.unsqueeze(-1)).squeeze(-1)  # eq 47
            ge = e.mul_(dphi.unsqueeze(1))  # dL/d exponent (B,K,U+1)
            ged = ge * d
            dp = DP[t]
            torch.sum(ge, -1, out=dp[:, :K])  # α̂
            torch.mul((ged * d).sum(-1), beta, out=dp[:, K : 2 * K]).neg_()  # β̂ = log β
            dk = dk - 2.0 * beta * ged.sum(-1)  # κ_t
            torch.mul(dk, ek, out=dp[:, 2 * K :])  # κ̂
            dh = torch.addmm(dHs[t] + dwh[:, A:], dp, w_p)  # eq 48 + h_t's other uses
            dc = _cell_backward(Ag[t], C[t], TC[t], dh, dc, D[t], peep)
            if clip > 0:
                torch.clamp(D[t], -clip, clip, out=Dc[t])
            if Dl is not None:
                Dl[t].copy_(Dc[t])
            dwh = back(Dr[t])
        flat = Dc.view(T * B, G)
        dW = grad_weight(Dr.view(T * B, G), Zr[:-1].reshape(T * B, X + A + H), low)
        hs = Z[1:, :, X + A :].reshape(T * B, H)
        dwp = grad_weight(DP.view(T * B, 3 * K), hs)
        dpeep = _peep_grad(D, C, H) if peep is not None else None
        db = flat.sum(0)
        dx = (flat @ W[:, :X]).view(T, B, X) if ctx.needs_input_grad[0] else None
        return (
            dx,
            dW[:, : X + A],
            dW[:, X + A :],
            db,
            db,
            dpeep,
            dwp,
            DP.view(T * B, 3 * K).sum(0),
            None,
            None,
            dwh[:, A:],
            dc,
            dk,
            dwh[:, :A],
            None,
            None,
        )


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
