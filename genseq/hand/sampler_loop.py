"""SynthesisNet's sampling steps as one TorchScript loop: `SynthStep`'s step, the stop rule
and the draw, run until an item stops or the step cap, without returning to Python.

Why: a sampling step is ~90 small tensor ops around five GEMVs; from Python each op costs
a few microseconds of interpreter and argument parsing, as much as the GEMVs themselves
(3 x 400, batch 1). The scripted loop runs the same ops on the same preallocated buffers as
`genseq.hand.sampler.SynthStep` (`run_steps` below), in this order, per step:
- Z's x slot <- x_t; layer 1: one GEMM of [h^1_{t-1}, x_t, w_{t-1}] (eq 52), eqs 7-11 in
  place (`genseq.nn.scan.cell_forward`), h^1_t into Z;
- the window: eq 48 (one GEMM), eqs 49-51, 46, 47 (`genseq.nn.window.window_step`), κ_t and
  w_t into their buffers;
- layers 2..N: one GEMM each of [x_t, w_t, h^{n-1}_t, h^n_{t-1}] (eq 53), eqs 7-11;
- the head, eq 3; the stop rule of §5.3 (`genseq.nn.window.stop_now`); the draw of x_{t+1}
  with bias b, eqs 18-22 and 61-62 (`genseq.nn.mdn.draw_planned`).
The functions named are the eager path's own, compiled by TorchScript, so fp32 results equal
the eager loop's bit for bit (tests/hand/test_sampler_loop.py) and the random stream is used
identically: the same seed draws the same strokes.

The graph runs unoptimised (`torch.jit.optimized_execution(False)`): TorchScript's optimising
executor would first profile a call, then rewrite addmm as mm + add (other rounding, so
other strokes from the same seed). `torch.jit.script` runs once per process (~0.1 s of CPU);
where TorchScript is missing or fails, `scripted()` is None and `genseq.hand.sampling` steps
in Python (the same maths).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor

from genseq.nn.mdn import draw_planned
from genseq.nn.scan import cell_forward
from genseq.nn.window import stop_now, window_step

# GEMM kinds of `genseq.nn.scan.Linear` (literals inside `gemm`: TorchScript reads no globals)
ADDMM, PACKED, PACKED_LOW, MATMUL_LOW = 0, 1, 2, 3  # W^T; oneDNN fp32, bf16; bf16 W^T


def gemm(x: Tensor, w: Tensor, kind: int, bias: Tensor) -> Tensor:
    """`genseq.nn.scan.Linear.__call__(x, bias=bias)` with its weight and kind unpacked."""
    if kind == 1:  # PACKED
        return torch.ops.mkldnn._linear_pointwise(x, w, bias, "none", [], "")
    if kind == 0:  # ADDMM
        return torch.addmm(bias, x, w)
    xl = x.to(torch.bfloat16)
    if kind == 2:  # PACKED_LOW
        y = torch.ops.mkldnn._linear_pointwise(xl, w, None, "none", [], "")
    else:
        y = xl @ w
    return torch.add(bias, y)  # fp32 (type promotion)


def run_steps(
    Z: Tensor,
    C: Tensor,
    TC: Tensor,
    kappa: Tensor,
    x: Tensor,
    chars: Tensor,
    u: Tensor,
    lengths: Tensor,
    weights: list[Tensor],
    kinds: list[int],
    spans: list[list[int]],
    biases: list[Tensor],
    peeps: list[Tensor | None],
    window: list[Tensor],
    head: list[int],
    M: int,
    bias: float,
    generator: torch.Generator | None,
    plan: list[Tensor],
    xs: Tensor,
    phis: Tensor,
) -> tuple[int, Tensor]:
    """Up to len(xs) steps from x_t; step k writes its drawn x and φ into xs[k], phis[k].
    weights/kinds/spans/biases/peeps: layers 1..N then the head (spans: [Z start, Z end,
    h^n's column]); window = [W_p^T, b_p] (eq 48); head = [H, x column, w column, A].
    -> (steps made, the last step's stop flags (B,))."""
    H, o_x, o_w, A = head[0], head[1], head[2], head[3]
    N = len(weights) - 1
    stop = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    k = 0
    while k < xs.shape[0]:
        Z[:, o_x:o_w].copy_(x)
        for n in range(N):  # eq 52 (n = 0), eq 53; eqs 7-11 in place
            s = spans[n]
            g = gemm(Z[:, s[0] : s[1]], weights[n], kinds[n], biases[n])
            h = Z[:, s[2] : s[2] + H]
            cell_forward(g, C[n], C[n], TC, h, peeps[n])
            if n == 0:
                p = torch.addmm(window[1], h.to(window[1].dtype), window[0])  # eq 48
                w, kappa_t, phi = window_step(p, kappa, chars, u)  # eqs 46-51
                kappa.copy_(kappa_t)
                Z[:, o_w : o_w + A].copy_(w)
                phis[k].copy_(phi)
        s = spans[N]
        y = gemm(Z[:, s[0] : s[1]], weights[N], kinds[N], biases[N])  # eq 3
        stop = stop_now(phis[k], lengths)  # §5.3
        x = draw_planned(y, M, bias, generator, plan[0], plan[1])  # eqs 18-22, 61-62
        xs[k].copy_(x)
        k += 1
        if bool(stop.any()):
            break
    return k, stop


_SCRIPTED: list = []  # [the compiled run_steps or None], once per process
_ENABLED = [True]


@contextlib.contextmanager
def python_steps() -> Iterator[None]:
    """Inside: `scripted()` is None, so sampling steps in Python (tests, `genseq bench`)."""
    old, _ENABLED[0] = _ENABLED[0], False
    try:
        yield
    finally:
        _ENABLED[0] = old


def scripted():
    """`run_steps` compiled by TorchScript, or None where that is unavailable (then the
    caller steps in Python). TorchScript is deprecated in recent torch but still ships;
    its deprecation warning is silenced here, once."""
    if not _ENABLED[0]:
        return None
    if not _SCRIPTED:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _SCRIPTED.append(torch.jit.script(run_steps))
        except Exception:  # noqa: BLE001 - any failure to compile means: step in Python
            _SCRIPTED.append(None)
    return _SCRIPTED[0]


def _kind(lin) -> tuple[Tensor, int]:
    """A `genseq.nn.scan.Linear`'s weight as `gemm` takes it, and its kind."""
    if lin.low is not None:
        return (lin.packed, PACKED_LOW) if lin.packed is not None else (lin.w_t, MATMUL_LOW)
    return (lin.packed, PACKED) if lin.packed is not None else (lin.w_t, ADDMM)


class ScriptedSteps:
    """`SynthStep` driven by the scripted `run_steps`: `(x, state, chars, u, lengths, n)` ->
    (steps made k <= n, xs (k,B,3), phis (k,B,U+1), the last step's stop flags, the state).
    The state aliases the step's buffers, as `SynthStep`'s does."""

    def __init__(self, run, step, n_mixtures: int, bias: float, gen: torch.Generator | None):
        from genseq.nn.mdn import gather_plan

        self.run, self.step, self.M, self.bias, self.gen = run, step, n_mixtures, bias, gen
        lins = [(lin, [a, b, step.o_h[n]], bias_n, peep)
                for n, (lin, a, b, bias_n, peep) in enumerate(step.layers)]  # fmt: skip
        lins.append((step.head, [0, step.width, 0], step.b_y, None))
        wk = [_kind(lin) for lin, *_ in lins]
        self.weights, self.kinds = [w for w, _ in wk], [k for _, k in wk]
        self.spans = [s for _, s, _, _ in lins]
        self.biases = [b.detach() for _, _, b, _ in lins]
        self.peeps = [None if p is None else p.detach() for *_, p in lins]
        self.window = [step.wp_t, step.b_p.detach()]
        self.head = [step.H, step.o_x, step.o_w, step.A]
        self.plan = list(gather_plan(n_mixtures, step.device))

    def __call__(self, x: Tensor, state, chars: Tensor, u: Tensor, lengths: Tensor, n: int):
        step = self.step
        if state is not step.state:
            step._load(state, x)
        B = x.shape[0]
        xs = torch.empty(n, B, 3, device=x.device, dtype=step.dtype)
        phis = torch.empty(n, B, u.shape[0], device=x.device, dtype=step.dtype)
        with torch.jit.optimized_execution(False):  # the ops as written (module docstring)
            k, stop = self.run(step.Z, step.C, step.TC, step.kappa, x, chars, u, lengths,
                               self.weights, self.kinds, self.spans, self.biases, self.peeps,
                               self.window, self.head, self.M, self.bias, self.gen, self.plan,
                               xs, phis)  # fmt: skip
        return k, xs[:k], phis[:k], stop, step.state
