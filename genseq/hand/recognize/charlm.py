"""A character n-gram language model of IAM-OnDB transcriptions, for the recognizer's CTC
prefix beam search (genseq.nn.ctc_beam).

Symbols: the recognizer's codes 1..A (genseq.hand.alphabet.Alphabet) and 0, the line boundary:
the start in a context, the end as an outcome. A line c_1..c_L is the sequence 0 c_1 .. c_L 0;
its n-grams are the windows of n symbols ending at positions 1..L+1 (the last L + 1 symbols
are predicted; a window does not reach before the start).

Smoothing: interpolated modified Kneser-Ney (Chen & Goodman 1998, "An empirical study of
smoothing techniques for language modeling", eq. 17 and 26). For a context h of n-1 symbols
(h' = h without its first symbol; the order-0 model is uniform over the A + 1 outcomes):

    P(c | h) = (a(hc) - D_n(a(hc))) / Σ_c' a(hc')  +  γ(h) P(c | h')
    γ(h)     = Σ_{c: a(hc) > 0} D_n(a(hc)) / Σ_c' a(hc')
    a(w)     = c(w), the count of w,          for the highest order, or w starting with 0
             = N1+(• w), the number of distinct symbols seen right before w, otherwise
    D_n(k)   = k - (k + 1) Y n_{k+1} / n_k  for k = 1, 2, 3+,   Y = n_1 / (n_1 + 2 n_2)

where n_k counts the order-n n-grams with a(w) = k. An unseen context h has P(c | h) = P(c | h').

Why modified Kneser-Ney: on testset_v's transcriptions, from the 312,650 training characters,
order 6 scores 2.545 bits per symbol with Witten-Bell, 2.399 with interpolated Kneser-Ney (one
discount per order) and 2.365 with modified Kneser-Ney (three per order); Witten-Bell is worse
at order 6 than at 5 (2.515: it trusts long, rare contexts too much), modified Kneser-Ney still
gains at order 7 (2.357) but has twice the n-grams to ship.

Files: NAME.safetensors (per order n: "order{n}.ngrams" uint8 (M_n, n), sorted, and
"order{n}.counts" int32 (M_n,), the raw counts) + NAME.json (the alphabet, the order, the
discounts, the decoding settings tuned for the recognizer, and a record). No pickle.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet

BOUNDARY = 0  # the start of a line in a context, its end as an outcome
MAX_ORDER = 10
CACHE_ROWS = 200_000  # context rows kept before the cache is emptied
Ngrams = list[dict[tuple[int, ...], int]]  # per order n = 1..N (index n - 1): n-gram -> count


def count_ngrams(lines: Iterable[Sequence[int]], order: int) -> Ngrams:
    """Raw counts of the n-grams (n = 1..order) of coded lines (codes 1..A, boundaries added)."""
    counts: Ngrams = [Counter() for _ in range(order)]
    for codes in lines:
        x = (BOUNDARY, *codes, BOUNDARY)
        for i in range(1, len(x)):
            for n in range(1, min(order, i + 1) + 1):
                counts[n - 1][x[i - n + 1 : i + 1]] += 1
    return [dict(c) for c in counts]


def adjusted_counts(raw: Ngrams) -> Ngrams:
    """Kneser-Ney's a(w): raw counts at the highest order and for n-grams that start with the
    line start; below, the number of distinct symbols seen right before w."""
    out: Ngrams = []
    for n, counts in enumerate(raw, 1):
        if n == len(raw):
            out.append(dict(counts))
            continue
        before = Counter(w[1:] for w in raw[n])  # raw[n]: the (n+1)-grams
        out.append({w: c if w[0] == BOUNDARY and n > 1 else before[w] for w, c in counts.items()})
    return out


def mkn_discounts(adjusted: Iterable[int]) -> tuple[float, float, float]:
    """D(1), D(2), D(3+) of one order from its adjusted counts (Chen & Goodman eq. 26); where
    a count of counts is 0 (a tiny corpus), Y, kept within [0, k]."""
    cc = Counter(int(a) for a in adjusted)
    n = [cc[1], cc[2], cc[3], cc[4]]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] else 0.5
    out = []
    for k in (1, 2, 3):
        d = k - (k + 1) * y * n[k] / n[k - 1] if n[k - 1] else y
        out.append(min(max(d, 0.0), float(k)))
    return out[0], out[1], out[2]


class CharLM:
    """P(c | the line so far) over c = 0 (end) .. A (the alphabet), interpolated modified KN."""

    def __init__(
        self,
        alphabet: Alphabet,
        raw: Ngrams,
        discounts: Sequence[Sequence[float]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.alphabet = alphabet
        self.order = len(raw)
        self.raw = raw
        self.meta = dict(meta or {})
        adjusted = adjusted_counts(raw)
        if discounts is None:
            discounts = [mkn_discounts(a.values()) for a in adjusted]
        self.discounts = [tuple(float(d) for d in ds) for ds in discounts]
        self.V = len(alphabet) + 1  # outcomes: the end and the A symbols
        # per context length k = n - 1: the order's n-grams sorted (each context's together),
        # their last symbols and discounted a / Σa, and per context h: (first, end, γ(h))
        self.tables: list[dict[tuple[int, ...], tuple[int, int, float]]] = []
        self.next: list[np.ndarray] = []
        self.disc: list[np.ndarray] = []
        for counts, (d1, d2, d3) in zip(adjusted, self.discounts, strict=True):
            grams = sorted(counts)
            a = np.array([counts[w] for w in grams], np.float64)
            d = np.where(a >= 3, d3, np.where(a == 2, d2, d1))
            first = [i for i in range(len(grams)) if i == 0 or grams[i][:-1] != grams[i - 1][:-1]]
            ends = [*first[1:], len(grams)]
            total = np.add.reduceat(a, first) if grams else a
            gamma = (np.add.reduceat(d, first) / total).tolist() if grams else []
            self.next.append(np.array([w[-1] for w in grams], np.int64))
            self.disc.append((a - d) / np.repeat(total, np.diff([*first, len(grams)])))
            self.tables.append(
                {grams[i][:-1]: (i, e, g) for i, e, g in zip(first, ends, gamma, strict=True)}
            )
        self._rows: dict[tuple[int, ...], list[float]] = {}

    # ---- building ----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        alphabet: Alphabet,
        order: int = 6,
        discounts: Sequence[Sequence[float]] | None = None,
    ) -> CharLM:
        """The model of non-empty `texts` (each a line), in `alphabet`'s codes."""
        if not 1 <= order <= MAX_ORDER:
            raise GenseqError(f"a character language model has order 1 to {MAX_ORDER}, not {order}")
        lines = [alphabet.encode(t) for t in texts if t]
        return cls(alphabet, count_ngrams(lines, order), discounts)

    # ---- probabilities -----------------------------------------------------------------------
    def probs(self, context: Sequence[int]) -> np.ndarray:
        """P(c | context) for c = 0 (end) .. A; `context` starts with the line start (0)."""
        h = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        p = np.full(self.V, 1.0 / self.V)
        for k, table in enumerate(self.tables):  # k = context length, shortest first
            if k > len(h):
                break
            hit = table.get(h[len(h) - k :] if k else ())
            if hit is None:  # unseen: no longer context is seen either
                break
            i, e, gamma = hit
            p = gamma * p
            p[self.next[k][i:e]] += self.disc[k][i:e]
        return p

    def __call__(self, prefix: tuple[int, ...]) -> list[float]:
        """log P(c | a line starting with `prefix`), c = 0 (end) .. A: the beam search's hook
        (genseq.nn.ctc_beam.LMScorer); cached per context."""
        h = ((BOUNDARY, *prefix))[-(self.order - 1) :] if self.order > 1 else ()
        row = self._rows.get(h)
        if row is None:
            if len(self._rows) >= CACHE_ROWS:
                self._rows.clear()
            row = self._rows[h] = np.log(self.probs(h)).tolist()
        return row

    def clear_cache(self) -> None:
        """Forget the rows `__call__` has computed."""
        self._rows.clear()

    def line_log2(self, text: str) -> tuple[float, int]:
        """(log2 P of a line and its end, the symbols predicted = len(text) + 1)."""
        x = [BOUNDARY, *self.alphabet.encode(text), BOUNDARY]
        total = sum(math.log2(self.probs(x[:i])[x[i]]) for i in range(1, len(x)))
        return total, len(x) - 1

    def bits_per_symbol(self, texts: Iterable[str]) -> float:
        """Cross-entropy in bits per predicted symbol (each character and each line's end)."""
        bits, n = 0.0, 0
        for t in texts:
            lp, k = self.line_log2(t)
            bits, n = bits - lp, n + k
        return bits / max(n, 1)

    # ---- files -------------------------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for n, counts in enumerate(self.raw, 1):
            grams = sorted(counts)
            g = np.array(grams, np.uint8).reshape(len(grams), n)
            out[f"order{n}.ngrams"] = torch.from_numpy(g)
            out[f"order{n}.counts"] = torch.tensor([counts[w] for w in grams], dtype=torch.int32)
        return out

    def config(self) -> dict[str, Any]:
        return {
            **self.meta,
            "kind": "charlm",
            "order": self.order,
            "smoothing": "interpolated modified Kneser-Ney (Chen & Goodman 1998)",
            "alphabet": self.alphabet.to_json(),
            "discounts": [list(d) for d in self.discounts],
            "ngrams": [len(c) for c in self.raw],
        }

    def save(self, stem: str | Path) -> tuple[Path, Path]:
        """STEM.safetensors + STEM.json (each written atomically, readable by all)."""
        from genseq.train.checkpoint import atomic_write_text, save_tensors

        stem = Path(stem)
        st, js = stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")
        save_tensors(st, self.tensors(), {"kind": "charlm"})
        atomic_write_text(js, json.dumps(self.config(), indent=2) + "\n")
        for f in (st, js):
            f.chmod(0o644)
        return st, js

    @property
    def decoding(self) -> dict[str, float]:
        """The beam search settings tuned for this model (lm_weight, bonus), if recorded."""
        return dict(self.meta.get("decoding", {}))


def lm_files(name: str | Path) -> tuple[Path, Path]:
    """A shipped name (genseq/pretrained/NAME.*) or a path (STEM, STEM.json or
    STEM.safetensors) -> (its .safetensors, its .json)."""
    from genseq.train.pretrained import PRETRAINED_DIR

    p = Path(name)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    if p.name == str(name) and not str(name).startswith("."):  # a bare name: shipped first
        shipped = PRETRAINED_DIR / p.name
        if shipped.with_suffix(".json").is_file():
            p = shipped
    st, js = p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")
    if not (st.is_file() and js.is_file()):
        raise GenseqError(
            f"no character language model {str(name)!r}: {st.name} and {js.name} not found"
        )
    return st, js


def load_charlm(name: str | Path) -> CharLM:
    """The model saved by CharLM.save (a shipped name such as "recognizer-lm", or a path)."""
    from genseq.train.checkpoint import load_tensors

    st, js = lm_files(name)
    tensors, _ = load_tensors(st)
    try:
        cfg = json.loads(js.read_text(encoding="utf-8"))
        if not isinstance(cfg, dict) or cfg.get("kind") != "charlm":
            raise ValueError("its JSON is not of kind charlm")
        alphabet = Alphabet.from_json(cfg["alphabet"])
        order = int(cfg["order"])
        raw: Ngrams = []
        for n in range(1, order + 1):
            g, c = tensors[f"order{n}.ngrams"], tensors[f"order{n}.counts"]
            if g.dtype != torch.uint8 or g.shape != (len(c), n) or (g > len(alphabet)).any():
                raise ValueError(f"order {n}: n-grams of the wrong shape or beyond the alphabet")
            if (c <= 0).any():
                raise ValueError(f"order {n}: counts must be positive")
            raw.append(dict(zip(map(tuple, g.tolist()), c.tolist(), strict=True)))
        return CharLM(alphabet, raw, cfg.get("discounts"), cfg)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, GenseqError) as e:
        raise GenseqError(f"{js.with_suffix('')} is not a character language model ({e})") from None
