"""Handwriting from trained networks: load a model with its normalisation and alphabet, write
text as lines (batched) or as a word-wrapped page, sample unconditionally.

Characters outside the model's alphabet: the alphabet decides. The paper's 57-symbol alphabet
folds digits and most punctuation into its non-letter class (§5); the full alphabet has no
such class, so text with a character it lacks is refused with one line naming the characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.layout import compose_page, wrap
from genseq.hand.strokes import NormStats
from genseq.train.checkpoint import load_model


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
    net, cfg = load_model(Path(model_dir))
    if cfg["kind"] not in ("predict", "synth"):
        raise GenseqError(f"{model_dir} holds a {cfg['kind']} model, not a handwriting model")
    stats = NormStats.from_json(cfg["norm"])
    alphabet = Alphabet.from_json(cfg["alphabet"]) if cfg["kind"] == "synth" else None
    return HandModel(net, stats, alphabet, cfg)


def _generator(seed: int | None) -> torch.Generator | None:
    return torch.Generator().manual_seed(seed) if seed is not None else None


def encode_lines(alphabet: Alphabet, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts → padded ids (B, U) and mask; one error naming every unsupported character."""
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


def write_lines(
    model: HandModel,
    lines: list[str],
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
) -> list[np.ndarray]:
    """Write every line in one batch; returns de-normalised offsets (N, 3) per line.

    style: (normalised strokes (P,3), their text) of a real line to prime with (§5.5)."""
    if model.alphabet is None:
        raise GenseqError("writing text needs a synthesis model (hand train --task synth)")
    nonempty = [s for s in lines if s.strip()]
    if not nonempty:
        return [np.zeros((0, 3), np.float32) for _ in lines]
    ids, mask = encode_lines(model.alphabet, nonempty)
    prime = None
    if style is not None:
        strokes, text = style
        p_ids, _ = encode_lines(model.alphabet, [text])
        prime = (torch.as_tensor(strokes, dtype=torch.float32), p_ids[0])
    out = model.net.synthesize(ids, mask, bias=bias, prime=prime, generator=_generator(seed))
    it = iter(model.stats.denormalise(s.numpy()) for s in out.strokes)
    return [next(it) if s.strip() else np.zeros((0, 3), np.float32) for s in lines]


def write_page(
    model: HandModel,
    text: str,
    width: int = 40,
    bias: float = 0.0,
    style: tuple[np.ndarray, str] | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Word-wrap `text` into lines of ≤ `width` characters, write them as one batch and lay
    them out as a page: absolute points (x, y, e), y up."""
    if not text.strip():
        raise GenseqError("nothing to write: the text is empty")
    lines = wrap(text, width)
    written = write_lines(model, lines, bias, style, seed)
    return compose_page([w if len(w) else None for w in written])


def sample_unconditional(
    model: HandModel, steps: int, bias: float = 0.0, seed: int | None = None
) -> np.ndarray:
    """§4: `steps` points from a prediction network; de-normalised offsets."""
    if model.kind != "predict":
        raise GenseqError("unconditional sampling needs a prediction model (--task predict)")
    pts = model.net.sample(steps, bias=bias, generator=_generator(seed))
    return model.stats.denormalise(pts.numpy())
