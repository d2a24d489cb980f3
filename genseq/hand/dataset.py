"""A normalised view of one set of a prepared cache (`HandDataset`), and the padding of its
lines into a batch (`collate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet, get_alphabet
from genseq.hand.cache import HandCache


@dataclass
class HandLine:
    id: str
    strokes: np.ndarray  # (T, 3) float32: normalised (Δx, Δy), e in channel 2
    text: str
    codes: np.ndarray  # (U,) int64, alphabet codes (1-based; 0 = padding)


class HandDataset:
    """One set of lines of a cache, normalised with the cache's training statistics and with
    text encoded in `alphabet` ("full": the cache's, "paper57", or an Alphabet).

    require_text: skip lines without a transcription (synthesis needs text; prediction (§4)
    can pass False to train on all of the paper's 10,741 lines)."""

    def __init__(
        self,
        cache: HandCache | str | Path,
        split: str | tuple[str, ...] = "train",
        alphabet: str | Alphabet = "full",
        normalise: bool = True,
        require_text: bool = True,
    ) -> None:
        self.cache = cache if isinstance(cache, HandCache) else HandCache.load(cache)
        self.split = split
        self.alphabet = (
            self.cache.alphabet if alphabet == "full" else get_alphabet(alphabet, self.cache.texts)
        )
        self.stats = self.cache.stats
        self.normalise = normalise
        positions = self.cache.select(split)
        if require_text:
            positions = positions[np.array([bool(self.cache.texts[p]) for p in positions], bool)]
        self.positions = positions
        self.lengths = self.cache.lengths()[self.positions]
        self.codes = [
            np.array(self.alphabet.encode(self.cache.texts[p]), np.int64) for p in self.positions
        ]

    def __len__(self) -> int:
        return len(self.positions)

    def strokes(self, i: int) -> np.ndarray:
        raw = self.cache.raw(int(self.positions[i]))
        return self.stats.normalise(raw) if self.normalise else raw.astype(np.float32)

    def __getitem__(self, i: int) -> HandLine:
        p = int(self.positions[i])
        return HandLine(self.cache.ids[p], self.strokes(i), self.cache.texts[p], self.codes[i])

    def index_of(self, line_id: str) -> int:
        p = self.cache.position(line_id)
        hit = np.flatnonzero(self.positions == p)
        if not len(hit):
            raise GenseqError(f"line {line_id} is not in the {self.split} set")
        return int(hit[0])


def collate(strokes: list[np.ndarray], codes: list[np.ndarray], ids: list[str]) -> dict:
    """Pad a list of lines into a batch (see HandBatches.batch)."""
    b = len(strokes)
    t = max(len(s) for s in strokes)
    u = max(1, max(len(c) for c in codes))
    x = np.zeros((b, t, 3), np.float32)
    mask = np.zeros((b, t), bool)
    text = np.zeros((b, u), np.int64)
    for j, (s, c) in enumerate(zip(strokes, codes, strict=True)):
        x[j, : len(s)] = s
        mask[j, : len(s)] = True
        text[j, : len(c)] = c
    return {
        "strokes": torch.from_numpy(x),
        "mask": torch.from_numpy(mask),
        "text": torch.from_numpy(text),
        "text_mask": torch.from_numpy(text != 0),
        "lengths": torch.from_numpy(mask.sum(1)),
        "ids": list(ids),
    }
