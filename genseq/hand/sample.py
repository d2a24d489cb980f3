"""Handwriting from trained networks: load a model with its normalisation and alphabet, write
text as lines (batched) or as a word-wrapped page, sample unconditionally.

Characters outside the model's alphabet: the alphabet decides. The paper's 57-symbol alphabet
folds digits and most punctuation into its non-letter class (§5); the full alphabet has no
such class, so text with a character it lacks is refused with one line naming the characters.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genseq import limits
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.fold import fold_char, fold_text
from genseq.hand.layout import compose_page, wrap
from genseq.hand.model import Synthesis
from genseq.hand.strokes import NormStats


@dataclass
class HandModel:
    net: nn.Module
    stats: NormStats
    alphabet: Alphabet | None  # None for a prediction network
    config: dict

    @property
    def kind(self) -> str:
        return self.config["kind"]


def load_hand_model(model_dir: str | Path) -> HandModel:
    """A run directory, or the name of a model shipped in genseq/pretrained (e.g. "synth")."""
    from genseq.hand.recognize.read import load_named  # shipped names (issue 10)

    net, cfg = load_named(model_dir)
    if cfg["kind"] not in ("predict", "synth"):
        raise GenseqError(f"{model_dir} holds a {cfg['kind']} model, not a handwriting model")
    stats = NormStats.from_json(cfg["norm"])
    alphabet = Alphabet.from_json(cfg["alphabet"]) if cfg["kind"] == "synth" else None
    return HandModel(net, stats, alphabet, cfg)


def _generator(seed: int | None) -> torch.Generator | None:
    return torch.Generator().manual_seed(seed) if seed is not None else None


def encode_lines(
    alphabet: Alphabet, lines: list[str], strict: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts → padded ids (B, U) and mask; one error naming every unsupported character.
    Unless `strict`, characters the alphabet lacks are first folded to ones it has (é → e,
    “ → ", genseq.hand.fold) with one warning on stderr naming them."""
    if not strict:
        lines = fold_lines(alphabet, lines)
    bad = alphabet.missing("".join(lines))
    if bad:
        raise GenseqError(
            f"the model's alphabet cannot write {', '.join(repr(c) for c in bad)}; "
            f"it has: {''.join(alphabet.symbols)}"
        )
    codes = [alphabet.encode(s) for s in lines]
    U = max(1, max(len(c) for c in codes))
    ids = torch.zeros(len(lines), U, dtype=torch.long)
    for i, c in enumerate(codes):
        ids[i, : len(c)] = torch.tensor(c, dtype=torch.long)
    return ids, ids != 0


def fold_lines(alphabet: Alphabet, lines: list[str]) -> list[str]:
    """genseq.hand.fold on every line; one warning naming what was folded."""
    out = [fold_text(s, alphabet) for s in lines]
    folded = "".join(dict.fromkeys("".join(f for _, f in out)))
    if folded:
        shown = ", ".join(f"{c!r} -> {fold_char(c)!r}" for c in folded)
        print(f"genseq: warning: folded characters the model cannot write: {shown} "
              "(--strict refuses them)", file=sys.stderr)  # fmt: skip
    return [t for t, _ in out]


def _prime_text(text: str) -> str:
    """§5.5 reads the style's text followed by the new text: keep a space between them, so the
    new text starts a new word after the style's last one."""
    text = " ".join(text.split())
    return text if not text or text.endswith(" ") else text + " "


def synthesize_lines(
    model: HandModel,
    lines: list[str],
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
    strict: bool = False,
) -> Synthesis:
    """Write `lines` (non-empty strings) in one batch -> the raw `Synthesis` (normalised
    offsets, φ, stop flags; with a style, φ and text span the style's text + the line).
    Each line stops after limits.STEPS_PER_CHAR points per character at most; all lines
    together hold at most limits.MAX_WRITE_CHARS characters (limits.MAX_WRITE_STEPS points).

    style: (normalised strokes (P,3), their text) of a line to prime with (§5.5).
    strict: refuse characters the alphabet lacks instead of folding them (genseq.hand.fold)."""
    if model.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    check_length(sum(len(s) for s in lines))
    ids, mask = encode_lines(model.alphabet, lines, strict)
    check_length(int(mask.sum()))  # after folding (… -> ...)
    prime = None
    if style is not None:
        strokes, text = style
        if not text.strip():
            raise GenseqError("the style has no text")
        p_ids, _ = encode_lines(model.alphabet, [_prime_text(text)])
        prime = (torch.as_tensor(np.asarray(strokes), dtype=torch.float32), p_ids[0])
    syn = model.net.synthesize(ids, mask, bias=bias, prime=prime, generator=_generator(seed),
                               steps_per_char=limits.STEPS_PER_CHAR)  # fmt: skip
    return syn if prime is None else trim_prime_tail(syn, int((prime[1] != 0).sum()))


def check_length(n_chars: int) -> None:
    if n_chars > limits.MAX_WRITE_CHARS:
        raise GenseqError(
            f"the text has {n_chars:,} characters; the limit is {limits.MAX_WRITE_CHARS:,}"
        )


def trim_prime_tail(syn: Synthesis, n_prime: int) -> Synthesis:
    """Primed lines (§5.5) often start by finishing the prime's last stroke: a stray mark
    before the first new letter. Drop each line's points up to the first step whose window
    φ(t, ·) peaks on the new text (column >= n_prime, the prime text's length); the pen
    position is relative, so nothing after moves. A line whose window never gets there is
    kept whole."""
    strokes, phis = [], []
    for s, ph in zip(syn.strokes, syn.phi, strict=True):
        on_new = (ph.argmax(1) >= n_prime).nonzero() if len(ph) else []
        t0 = int(on_new[0, 0]) if len(on_new) else 0
        strokes.append(s[t0:])
        phis.append(ph[t0:])
    return Synthesis(strokes, phis, syn.stopped, syn.text)


def write_lines(
    model: HandModel,
    lines: list[str],
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
    strict: bool = False,
) -> list[np.ndarray]:
    """Write every line in one batch; returns de-normalised offsets (N, 3) per line.

    style: (normalised strokes (P,3), their text) of a real line to prime with (§5.5)."""
    return lines_of(model, lines, _synthesize_nonempty(model, lines, bias, style, seed, strict))


def _synthesize_nonempty(
    model: HandModel,
    lines: list[str],
    bias: float,
    style: tuple[np.ndarray, str] | None,
    seed: int | None,
    strict: bool = False,
) -> Synthesis | None:
    if model.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    nonempty = [s for s in lines if s.strip()]
    return synthesize_lines(model, nonempty, bias, style, seed, strict) if nonempty else None


def lines_of(model: HandModel, lines: list[str], syn: Synthesis | None) -> list[np.ndarray]:
    """De-normalised offsets per line; `syn` holds the non-empty lines in order (blank lines
    get no points)."""
    empty = np.zeros((0, 3), np.float32)
    if syn is None:
        return [empty for _ in lines]
    it = iter(model.stats.denormalise(s.numpy()) for s in syn.strokes)
    return [next(it) if s.strip() else empty for s in lines]


def write_page(
    model: HandModel,
    text: str,
    width: int = 40,
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
    strict: bool = False,
) -> np.ndarray:
    """Word-wrap `text` into lines of ≤ `width` characters, write them as one batch and lay
    them out as a page: absolute points (x, y, e), y up."""
    return write_page_synthesis(model, text, width, bias, style, seed, strict)[0]


def write_page_synthesis(
    model: HandModel,
    text: str,
    width: int = 40,
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
    strict: bool = False,
) -> tuple[np.ndarray, Synthesis]:
    """`write_page`, also returning the `Synthesis` of its non-empty lines (for figures)."""
    check_length(len(text))
    if not text.strip():
        raise GenseqError("nothing to write: the text is empty")
    lines = wrap(text, width)
    syn = _synthesize_nonempty(model, lines, bias, style, seed, strict)
    assert syn is not None
    written = lines_of(model, lines, syn)
    return compose_page([w if len(w) else None for w in written]), syn


def sample_unconditional(
    model: HandModel, steps: int, bias: float = 0.0, seed: int | None = None
) -> np.ndarray:
    """§4: `steps` points from a prediction network; de-normalised offsets."""
    if model.kind != "predict":
        raise GenseqError("unconditional sampling needs a prediction model (--task predict)")
    if not 1 <= steps <= limits.MAX_SAMPLE_STEPS:
        raise GenseqError(f"--steps must be between 1 and {limits.MAX_SAMPLE_STEPS:,}")
    pts = model.net.sample(steps, bias=bias, generator=_generator(seed))
    return model.stats.denormalise(pts.numpy())
