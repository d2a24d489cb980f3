"""CTC prefix beam search with an optional character language model.

Hannun et al. 2014 ("First-pass large vocabulary continuous speech recognition using
bi-directional recurrent DNNs", Algorithm 1; Graves 2012, §7.5, for prefix search). A CTC
network gives per frame t a distribution y_t over V codes, 0 = blank, 1..V-1 characters. A
labelling ℓ is read from every alignment (a code per frame) that collapses to it (repeats
merged, then blanks dropped); P(ℓ | x) sums over those alignments. Best path (argmax per frame)
finds the most probable ALIGNMENT; the prefix search keeps, per frame, the `beam` most probable
PREFIXES, each with two probabilities over frames 1..t:

    p_b(ℓ, t)    alignments of 1..t collapsing to ℓ whose last code is blank
    p_nb(ℓ, t)   ... whose last code is ℓ's last character

    p_b(ℓ, t)     = y_t(0) (p_b(ℓ, t-1) + p_nb(ℓ, t-1))
    p_nb(ℓ, t)   += y_t(ℓ_end) p_nb(ℓ, t-1)                      (a repeat collapses)
    p_nb(ℓc, t)  += y_t(c) w(c | ℓ) (p_b(ℓ, t-1) + p_nb(ℓ, t-1))    c != ℓ_end
    p_nb(ℓc, t)  += y_t(c) w(c | ℓ) p_b(ℓ, t-1)                     c == ℓ_end (blank between)

with w(c | ℓ) = P_lm(c | ℓ)^α e^β: the language model's probability of c after ℓ, weighted by
α (`lm_weight`), and a bonus β (nats) per character against the LM's bias to short readings;
w = 1 without an LM. At the end a prefix scores log(p_b + p_nb) + α log P_lm(end | ℓ).
Everything is kept in log space. With an unlimited beam, no pruning and no LM the search is
exact: p_b + p_nb at the last frame is P(ℓ | x) for every labelling ℓ.

Speed: at frame t only the characters with y_t(c) >= `prune` are appended (a frame is mostly
blank; the few plausible characters carry nearly all of the rest).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

NEG_INF = -math.inf
LMScorer = Callable[[tuple[int, ...]], Sequence[float]]
# prefix (codes 1..V-1) -> log P(c | prefix) for c = 0..V-1, where 0 is the end of the line


@dataclass
class CTCBeam:
    beam: int = 16  # prefixes kept per frame
    lm_weight: float = 0.0  # α: weight of log P_lm per character (and of the end)
    bonus: float = 0.0  # β: nats added per character read (with or without an LM)
    prune: float = 1e-3  # per frame, characters below this probability are not appended


def _logadd(a: float, b: float) -> float:
    """log(e^a + e^b)."""
    if a < b:
        a, b = b, a
    return a if b == NEG_INF else a + math.log1p(math.exp(b - a))


def _add(cells: dict[tuple[int, ...], list[float]], ell: tuple[int, ...], i: int, v: float) -> None:
    """cells[ℓ][i] += e^v, in log space (i = 0: p_b, 1: p_nb)."""
    if v == NEG_INF:  # impossible (a repeat without a blank between, or the LM forbids it)
        return
    cell = cells.get(ell)
    if cell is None:
        cells[ell] = [v, NEG_INF] if i == 0 else [NEG_INF, v]
    else:
        cell[i] = _logadd(cell[i], v)


def ctc_prefix_beam_search(
    log_probs: np.ndarray, cfg: CTCBeam | None = None, lm: LMScorer | None = None
) -> list[tuple[tuple[int, ...], float]]:
    """One line's CTC log-probabilities (T, V), blank = 0 -> the final beam as (labelling,
    score) pairs, best first. score = log(p_b + p_nb) + α log P_lm(end | ℓ) (see the module
    docstring); without an LM and bonus, the log-probability of the labelling."""
    cfg = cfg or CTCBeam()
    lp = np.asarray(log_probs, dtype=np.float64)
    T, V = lp.shape
    use_lm = lm is not None and cfg.lm_weight != 0
    lm_cache: dict[tuple[int, ...], list[float]] = {}

    def lm_row(prefix: tuple[int, ...]) -> list[float]:
        row = lm_cache.get(prefix)
        if row is None:
            raw = lm(prefix)  # type: ignore[misc]
            row = lm_cache[prefix] = [cfg.lm_weight * float(v) for v in raw]
        return row

    threshold = math.log(cfg.prune) if cfg.prune > 0 else NEG_INF
    keep = lp[:, 1:] >= threshold  # (T, V-1) characters worth appending at each frame
    rows = lp.tolist()
    beam: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}  # ℓ -> (p_b, p_nb)
    for t in range(T):
        y = rows[t]
        chars = (np.flatnonzero(keep[t]) + 1).tolist()
        nxt: dict[tuple[int, ...], list[float]] = {}  # ℓ -> [p_b, p_nb] at frame t
        for ell, (pb, pnb) in beam.items():
            total = _logadd(pb, pnb)
            _add(nxt, ell, 0, y[0] + total)  # a blank
            last = ell[-1] if ell else -1
            if last > 0:
                _add(nxt, ell, 1, y[last] + pnb)  # the last character again: collapses
            lmr = lm_row(ell) if use_lm else None
            for c in chars:
                w = y[c] + cfg.bonus + (lmr[c] if lmr is not None else 0.0)
                _add(nxt, ell + (c,), 1, w + (pb if c == last else total))
        best = sorted(nxt.items(), key=lambda kv: -_logadd(*kv[1]))[: cfg.beam]
        beam = {ell: (pb, pnb) for ell, (pb, pnb) in best}
    out = []
    for ell, (pb, pnb) in beam.items():
        s = _logadd(pb, pnb) + (lm_row(ell)[0] if use_lm else 0.0)
        out.append((ell, s))
    return sorted(out, key=lambda h: -h[1])


def ctc_beam(
    log_probs: Tensor, lengths: Tensor, cfg: CTCBeam | None = None, lm: LMScorer | None = None
) -> list[list[int]]:
    """Prefix beam search over a padded batch (B, T, V) with frame counts (B,): the best
    labelling of each line (cf. genseq.nn.seq2seq.ctc_greedy)."""
    lp = log_probs.detach().to(torch.float64).cpu().numpy()
    out = []
    for b, n in enumerate(lengths.tolist()):
        hyps = ctc_prefix_beam_search(lp[b, :n], cfg, lm)
        out.append(list(hyps[0][0]) if hyps else [])  # none: every alignment impossible
    return out
