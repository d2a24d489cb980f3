"""Handwriting from trained networks: load a model with its normalisation and alphabet, write
lines of text (batched, optionally in a `Style`), sample unconditionally. A whole page (word
wrap, layout, files) is `genseq.hand.page.write_page`, built on `synthesize_text`.

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
from genseq.hand.model import PredictionNet, SynthesisNet
from genseq.hand.sampling import Synthesis
from genseq.hand.strokes import NormStats
from genseq.hand.styles import Style
from genseq.train.checkpoint import load_model


@dataclass
class HandModel:
    """A trained handwriting network with the normalisation of its training set (and, for
    synthesis, its alphabet), as `load_hand_model` returns it."""

    net: nn.Module
    stats: NormStats
    alphabet: Alphabet | None  # None for a prediction network
    config: dict

    @property
    def kind(self) -> str:
        return self.config["kind"]


def load_hand_model(name_or_dir: str | Path) -> HandModel:
    """A prediction or synthesis network from a run directory or a shipped model's name."""
    net, cfg = load_model(name_or_dir)
    if not isinstance(net, (PredictionNet, SynthesisNet)):
        raise GenseqError(f"{name_or_dir} holds a {cfg['kind']} model, not a handwriting model")
    stats = NormStats.from_json(cfg["norm"])
    alphabet = Alphabet.from_json(cfg["alphabet"]) if isinstance(net, SynthesisNet) else None
    return HandModel(net, stats, alphabet, cfg)


def generator(seed: int | None) -> torch.Generator | None:
    """A seeded CPU generator, or None (torch's global stream) for seed None."""
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


def check_length(n_chars: int) -> None:
    """At most limits.MAX_WRITE_CHARS characters to write."""
    if n_chars > limits.MAX_WRITE_CHARS:
        raise GenseqError(
            f"the text has {n_chars:,} characters; the limit is {limits.MAX_WRITE_CHARS:,}"
        )


def prime_text(text: str) -> str:
    """§5.5 reads the style's text followed by the new text: keep a space between them, so the
    new text starts a new word after the style's last one."""
    text = " ".join(text.split())
    return text if not text or text.endswith(" ") else text + " "


def _prime(model: HandModel, style: Style) -> tuple[torch.Tensor, torch.Tensor]:
    """(the style's normalised offsets, ids of its text + a space) to prime with (§5.5)."""
    assert model.alphabet is not None
    if not style.text.strip():
        raise GenseqError("the style has no text")
    bad = model.alphabet.missing(style.text)
    if bad:
        raise GenseqError(
            f"the text of the style{f' ({style.source})' if style.source else ''} has "
            f"characters the model cannot read: {', '.join(repr(c) for c in bad)}"
        )
    p_ids, _ = encode_lines(model.alphabet, [prime_text(style.text)])
    points = np.asarray(style.offsets_for(model.stats))
    return torch.as_tensor(points, dtype=torch.float32), p_ids[0]


def synthesize_text(
    model: HandModel,
    lines: list[str],
    bias: float = 0.0,
    style: Style | None = None,
    rng: torch.Generator | None = None,
    trim_prime: bool = True,
    strict: bool = False,
    precision: str = "fp32",
) -> Synthesis:
    """Write `lines` (non-empty strings) in one batch -> the raw `Synthesis` (normalised
    offsets, φ, stop flags; with a style, φ and text span the style's text + the line).
    Each line stops after limits.STEPS_PER_CHAR points per character at most; all lines
    together hold at most limits.MAX_WRITE_CHARS characters (limits.MAX_WRITE_STEPS points).

    style: a line to write like (§5.5); `trim_prime` drops the stray finish of its last stroke
    (`trim_prime_tail`). bias: eqs 61-62. rng: the random stream (`generator(seed)`).
    strict: refuse characters the alphabet lacks instead of folding them (genseq.hand.fold).
    precision: the sampler's GEMMs (`SynthesisNet.synthesize`: fp32, or bf16 / auto, faster
    where the CPU has bf16 units, at the cost of bf16 rounding)."""
    if model.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    check_length(sum(len(s) for s in lines))
    ids, mask = encode_lines(model.alphabet, lines, strict)
    check_length(int(mask.sum()))  # after folding (… -> ...)
    prime = _prime(model, style) if style is not None else None
    syn = model.net.synthesize(
        ids, mask, bias=bias, prime=prime, generator=rng,
        steps_per_char=limits.STEPS_PER_CHAR, precision=precision,
    )  # fmt: skip
    if prime is None or not trim_prime:
        return syn
    return trim_prime_tail(syn, int((prime[1] != 0).sum()))


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


def sample_unconditional(
    model: HandModel, steps: int, bias: float = 0.0, seed: int | None = None
) -> np.ndarray:
    """§4: `steps` points from a prediction network; de-normalised offsets."""
    if model.alphabet is not None:
        raise GenseqError("unconditional sampling needs a prediction model (--task predict)")
    if not 1 <= steps <= limits.MAX_SAMPLE_STEPS:
        raise GenseqError(f"--steps must be between 1 and {limits.MAX_SAMPLE_STEPS:,}")
    pts = model.net.sample(steps, bias=bias, generator=generator(seed))
    return model.stats.denormalise(pts.numpy())
