"""The GEMMs of the scan kernels and the layers around them, fast on every device.

On CPU (float32) the GEMMs go through oneDNN: the per-step ones with the weight packed once
per sequence (`Linear`), the large ones through `mm` / `linear`; that is 2-3x faster than
torch's BLAS call here (MKL on AMD EPYC). Elsewhere (float64, GPU) addmm. Under bf16 autocast
(`genseq.nn.precision`) the product is rounded to bf16 and accumulated in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from genseq.nn.precision import gemm_dtype

_MKLDNN_OK: bool | None = None
_MKLDNN_BF16_OK: bool | None = None


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


def _mkldnn_bf16_ok() -> bool:
    """Whether oneDNN packs bf16 weights on this CPU: it needs AVX512 (BW, VL, DQ) or
    AVX-NE-CONVERT; an AVX2-only CPU (AMD EPYC Zen 3) raises, and bf16 then runs as a plain
    matmul on bf16 tensors (slow there, but the same product)."""
    global _MKLDNN_BF16_OK
    if _MKLDNN_BF16_OK is None:
        _MKLDNN_BF16_OK = False
        if _mkldnn_ok():
            try:
                x = torch.ones(2, 3, dtype=torch.bfloat16)
                w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(4, 3, dtype=x.dtype), 2)
                y = torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
                _MKLDNN_BF16_OK = bool(torch.equal(y.float(), torch.full((2, 4), 3.0)))
            except (AttributeError, RuntimeError, NotImplementedError):
                pass
    return _MKLDNN_BF16_OK


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
            if w.device.type == "cpu" and _mkldnn_bf16_ok():
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
