"""Writing with a synthesis network (§5): the sampling loop behind `SynthesisNet.synthesize`.

Each step runs every layer once (`genseq.hand.sampler.SynthStep`; the steps between two
changes of the batch run as one TorchScript loop, `genseq.hand.sampler_loop`), checks the
stop rule of §5.3 (`genseq.nn.window.stop_now`), draws the next pen point with bias b (eqs 61-62,
`genseq.nn.mdn.mdn_draw`) and feeds it back. Lines are written as one batch; an item leaves
the batch when it stops or reaches its step cap. Priming (§5.5): the network first reads a
real line clamped with the prime's text followed by the text to write (`SynthesisNet.prime`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genseq import limits
from genseq.hand.sampler import SynthState, SynthStep, one_thread
from genseq.hand.sampler_loop import ScriptedSteps, scripted
from genseq.nn.mdn import mdn_draw
from genseq.nn.precision import resolve
from genseq.nn.util import eval_mode
from genseq.nn.window import stop_now, u_grid

if TYPE_CHECKING:
    from genseq.hand.model import SynthesisNet

# hook(items, x, phi, stop) after each step: see `on_step`
StepHook = Callable[[list[int], Tensor, Tensor, Tensor], None]
_step_hook: ContextVar[StepHook | None] = ContextVar("genseq_step_hook", default=None)


@contextmanager
def on_step(hook: StepHook) -> Iterator[None]:
    """Within the block, each sampling step of `synthesize` (in this thread / context) calls
    hook(items, x, phi, stop): the batch items still writing, in row order, the points just
    drawn for them (normalised offsets (n, 3)), their window weights φ (n, U+1) and the §5.3
    stop flags (n,); an item's point at the step it stops is not part of its line. For
    progress (a page drawn while it is written) or to abandon sampling: an exception the
    hook raises propagates out of `synthesize`. Without a hook the loop does no extra work."""
    token = _step_hook.set(hook)
    try:
        yield
    finally:
        _step_hook.reset(token)


@dataclass
class Synthesis:
    """What `SynthesisNet.synthesize` returns, one entry per batch item (on the CPU)."""

    strokes: list[Tensor]  # (T_b, 3) sampled normalised offsets (the prime's points excluded)
    phi: list[Tensor]  # (T_b, U_b + 1) φ(t, u) over the (prime +) text, u = 1..U_b+1 (Fig 13)
    stopped: list[bool]  # True: ended by the §5.3 stop rule; False: reached the step cap
    text: list[Tensor]  # (U_b,) the character ids the window read (prime text + text)


class _Rows:
    """The batch items still writing (in row order) and what every item has written."""

    def __init__(self, caps: list[int]):
        B = len(caps)
        self.caps, self.active = caps, list(range(B))
        self.strokes: list[Tensor | None] = [None] * B
        self.phis: list[Tensor | None] = [None] * B
        self.stopped = [False] * B
        self.seg_x: list[Tensor] = []  # points and φ since the active set last changed
        self.seg_phi: list[Tensor] = []

    def next_cap(self) -> int:
        return min((self.caps[b] for b in self.active), default=0)

    def settle(self, t: int, stop: list[bool]) -> list[int]:
        """After step t: append the segment to each active item, finish the items that
        stopped (§5.3: the point drawn at the stopping step is dropped) or reached their cap;
        returns the rows that go on."""
        xs, ps = torch.stack(self.seg_x, 1), torch.stack(self.seg_phi, 1)
        self.seg_x, self.seg_phi = [], []
        keep = []
        for r, b in enumerate(self.active):
            s, p = self.strokes[b], self.phis[b]
            s = xs[r] if s is None else torch.cat([s, xs[r]])
            p = ps[r] if p is None else torch.cat([p, ps[r]])
            if stop[r] or t >= self.caps[b]:
                n = t - 1 if stop[r] else t
                s, p, self.stopped[b] = s[:n], p[:n], stop[r]
            else:
                keep.append(r)
            self.strokes[b], self.phis[b] = s, p
        self.active = [self.active[r] for r in keep]
        return keep


_CHUNK = 512  # steps per scripted call at most: bounds the (steps, B, U+1) φ buffer
_HOOK_CHUNK = 16  # with a step hook (streaming, deadlines): it runs at most this late


def _batch_dim(key: str) -> int:
    return 1 if key in ("h", "c") else 0  # (N-1,B,H) upper-stack states, else (B,·)


def _sample_loop(
    net: SynthesisNet,
    x: Tensor,
    st: SynthState,
    chars: Tensor,
    lengths: Tensor,
    rows: _Rows,
    bias: float,
    generator: torch.Generator | None,
    low: torch.dtype | None,
) -> None:
    """Step, stop rule, draw, until every item has finished (results in `rows`); `low`: the
    GEMMs' dtype (bf16) or None."""
    u = u_grid(chars.shape[1], chars.device, chars.dtype)
    step, t, cap = SynthStep(net, len(rows.caps), low), 0, rows.next_cap()
    hook = _step_hook.get()
    chunk = _CHUNK if hook is None else _HOOK_CHUNK  # a hook sees every step, soon after
    run = scripted()
    steps = None if run is None else ScriptedSteps(run, step, net.cfg.n_mixtures, bias, generator)
    while rows.active and cap > 0:  # max_steps <= 0: no steps at all
        if steps is not None:  # until a stop or the cap, in TorchScript (the same ops)
            k, xs, phis, stop, st = steps(x, st, chars, u, lengths, min(cap - t, chunk))
            rows.seg_x += xs.unbind(0)
            rows.seg_phi += phis.unbind(0)
            x, t = xs[-1], t + k
            if hook is not None:  # the chunk's steps in order; only its last can stop
                going = torch.zeros_like(stop)
                for i in range(k):
                    hook(rows.active, xs[i], phis[i], stop if i == k - 1 else going)
        else:
            y, st, phi = step(x, st, chars, u)
            stop = stop_now(phi, lengths)  # §5.3, per item: u <= U_b inside, U_b+1 the end
            x = mdn_draw(y, net.cfg.n_mixtures, bias, generator)  # eqs 61-62
            rows.seg_x.append(x)
            rows.seg_phi.append(phi)
            if hook is not None:
                hook(rows.active, x, phi, stop)
            t += 1
        if t < cap and not bool(stop.any()):
            continue
        keep = rows.settle(t, stop.tolist())
        if rows.active and len(keep) < len(stop):  # finished rows leave the batch
            idx = torch.tensor(keep, device=x.device)
            st = {k: v.index_select(_batch_dim(k), idx) for k, v in st.items()}
            x, chars, lengths = (v.index_select(0, idx) for v in (x, chars, lengths))
        cap = rows.next_cap()


def _concat_texts(a: Tensor, a_mask: Tensor, b: Tensor, b_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Row-wise a[mask] + b[mask] (ids), left-aligned and padded with 0 -> (ids, mask)."""
    rows = [torch.cat([a[i][a_mask[i]], b[i][b_mask[i]]]) for i in range(a.shape[0])]
    U = max((len(r) for r in rows), default=0)
    ids = a.new_zeros(len(rows), U)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    lengths = torch.tensor([len(r) for r in rows], device=a.device)
    return ids, torch.arange(U, device=a.device).unsqueeze(0) < lengths.unsqueeze(1)


def _start(
    net: SynthesisNet, text: Tensor, mask: Tensor, prime: tuple[Tensor, Tensor] | None
) -> tuple[SynthState, Tensor]:
    """The state and first input: zeros and the null vector x_1, or after reading the prime's
    line (§5.5)."""
    p = net.head.proj.weight
    B = text.shape[0]
    if prime is None:
        x = torch.zeros(B, 3, device=p.device, dtype=p.dtype)  # x_1 = null vector
        return net.initial_state(B, p.device, p.dtype), x
    pstrokes = prime[0].to(p.device, p.dtype).reshape(-1, prime[0].shape[-2], 3)
    return net.prime(pstrokes.expand(B, -1, -1), text, mask)


@torch.inference_mode()
def synthesize(
    net: SynthesisNet,
    text: Tensor,
    text_mask: Tensor | None = None,
    bias: float = 0.0,
    max_steps: int | None = None,
    prime: tuple[Tensor, Tensor] | None = None,
    generator: torch.Generator | None = None,
    steps_per_char: int | None = None,
    precision: str = "fp32",
) -> Synthesis:
    """Write `text` (B,U) or (U,) character ids (0 = padding; text_mask default text != 0).

    Each step samples x_{t+1} ~ Pr(· | y_t) with bias b (eqs 61-62) and feeds it back.
    Item b ends at the first step t where φ(t, U_b+1) > φ(t, u) for all u <= U_b (§5.3),
    keeping the points sampled before t, or after its cap: `max_steps` points, default
    `steps_per_char` (default `genseq.limits.STEPS_PER_CHAR`) x its number of characters to
    write. Finished items leave the batch.

    prime (§5.5): (strokes (P,3) or (B,P,3) normalised offsets of a real line, ids of its
    text (U_p,) or (B,U_p), 0 = padding). The net reads the line clamped with prime text +
    text, then writes freely; the result holds only the new points, and φ spans the
    prime text + text. precision: the GEMMs' (`genseq.hand.sampler`; "auto": bf16 on CUDA
    or a CPU with AMX / AVX512-BF16). Default fp32: on an AVX512-BF16 CPU without AMX bf16
    sampled 1.0-1.15x as fast as fp32 at batch 1 (memory-bound GEMVs), not worth its
    rounding."""
    p = net.head.proj.weight
    dev = p.device
    bf16 = resolve(precision, dev) == "bf16" and p.dtype == torch.float32
    per_char = limits.STEPS_PER_CHAR if steps_per_char is None else steps_per_char
    text = text.to(dev).reshape(-1, text.shape[-1])
    mask = (text != 0) if text_mask is None else text_mask.to(dev).reshape(text.shape)
    B = text.shape[0]
    n_new = mask.sum(1)
    if prime is not None and prime[0].numel() == 0:
        prime = None  # no line to read: plain synthesis
    if prime is not None:
        ptext = prime[1].to(dev).reshape(-1, prime[1].shape[-1]).expand(B, -1)
        text, mask = _concat_texts(ptext, ptext != 0, text, mask)
    lengths = mask.sum(1)
    chars = net.encode_text(text, mask, net.head.proj.weight.dtype)
    if max_steps is not None:
        caps = [max_steps] * B
    else:  # at least one step: an empty text then stops at once (§5.3), with no points
        caps = [max(1, n * per_char) for n in n_new.tolist()]
    rows = _Rows(caps)
    with eval_mode(net), one_thread(dev):
        st, x = _start(net, text, mask, prime)
        low = torch.bfloat16 if bf16 else None
        _sample_loop(net, x, st, chars, lengths, rows, bias, generator, low)
    out_s, out_p, out_t = [], [], []
    for b in range(B):
        s, ph = rows.strokes[b], rows.phis[b]
        L = int(lengths[b])
        out_s.append(s.cpu() if s is not None else torch.zeros(0, 3))
        out_p.append(ph[:, : L + 1].cpu() if ph is not None else torch.zeros(0, L + 1))
        out_t.append(text[b, mask[b]].cpu())
    return Synthesis(out_s, out_p, rows.stopped, out_t)
