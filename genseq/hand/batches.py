"""Deterministic, length-bucketed batches of a handwriting dataset (exact resume)."""

from __future__ import annotations

import re

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.dataset import HandDataset, collate


class HandBatches:
    """Length-bucketed batches, deterministic in (seed, epoch, i) so training resumes exactly.

    Each epoch: shuffle the lines (rng seeded by (seed, epoch)), cut the order into pools of
    `pool` batches, sort each pool by length and cut it into batches (little padding), then
    shuffle the batch order. With crop_len, a line longer than crop_len is cut to a random
    window of crop_len points (start drawn from the same rng) — for prediction (§4) only:
    the text stays the whole line's. With `repeats` (one count >= 1 per line, `oversample`),
    line i appears repeats[i] times in every epoch's order, e.g. to show a synthesis network
    the rare digits more often. len(self) = ceil(lines an epoch / batch_size)."""

    def __init__(
        self,
        dataset: HandDataset,
        batch_size: int,
        seed: int = 0,
        crop_len: int | None = None,
        shuffle: bool = True,
        pool: int = 50,
        repeats: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise GenseqError(f"batch size must be >= 1, got {batch_size}")
        if crop_len is not None and crop_len < 2:
            raise GenseqError(f"crop length must be >= 2, got {crop_len}")
        if len(dataset) == 0:
            raise GenseqError(f"no lines in the {dataset.split} set")
        if repeats is not None and (len(repeats) != len(dataset) or np.min(repeats) < 1):
            raise GenseqError(f"repeats: one count >= 1 per line ({len(dataset)} lines)")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.repeats = None if repeats is None else np.asarray(repeats, np.int64)
        self.crop_len, self.shuffle, self.pool = crop_len, shuffle, pool
        self._plan_epoch: int | None = None
        self._plan: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return -(-self._lines() // self.batch_size)

    def _lines(self) -> int:
        """Lines served per epoch (with repeats, a line counts each time it appears)."""
        return len(self.dataset) if self.repeats is None else int(self.repeats.sum())

    def plan(self, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(dataset indices, crop starts)] for every batch of `epoch`."""
        if self._plan_epoch == epoch:
            return self._plan
        n, bs = len(self.dataset), self.batch_size
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        lengths = self.dataset.lengths
        starts = np.zeros(n, np.int64)
        if self.crop_len is not None:
            room = np.maximum(lengths - self.crop_len, 0)
            starts = (rng.random(n) * (room + 1)).astype(np.int64)  # uniform in [0, room]
            lengths = np.minimum(lengths, self.crop_len)
        if self.repeats is not None:  # each line repeats[i] times, shuffled together
            items = np.repeat(np.arange(n), self.repeats)
            order = items[rng.permutation(len(items))] if self.shuffle else items
        batches = []
        step = bs * self.pool
        for a in range(0, len(order), step):
            chunk = order[a : a + step]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[b : b + bs] for b in range(0, len(chunk), bs)]
        if self.shuffle:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        self._plan_epoch, self._plan = epoch, [(b, starts[b]) for b in batches]
        return self._plan

    def batch_lengths(self, epoch: int) -> list[int]:
        """The padded length T of every batch of `epoch`, without loading any (TBPTT chunk
        counts, genseq.hand.task)."""
        lengths = self.dataset.lengths
        if self.crop_len is not None:
            lengths = np.minimum(lengths, self.crop_len)
        return [int(lengths[idx].max()) for idx, _ in self.plan(epoch)]

    def batch(self, epoch: int, i: int) -> dict:
        """Batch i of `epoch`: strokes (B, T, 3) float32, mask (B, T) bool, text (B, U) long
        (0 = pad), text_mask (B, U) bool, lengths (B,) long, ids, starts (crop offsets)."""
        plan = self.plan(epoch)
        if not 0 <= i < len(plan):
            raise IndexError(f"batch {i} of {len(plan)}")
        idx, starts = plan[i]
        strokes, codes, ids = [], [], []
        for j, s in zip(idx.tolist(), starts.tolist(), strict=True):
            x = self.dataset.strokes(j)
            if self.crop_len is not None:
                x = x[s : s + self.crop_len]
            strokes.append(x)
            codes.append(self.dataset.codes[j])
            ids.append(self.dataset.cache.ids[int(self.dataset.positions[j])])
        out = collate(strokes, codes, ids)
        out["starts"] = starts.tolist()
        return out

    def epoch(self, epoch: int, start: int = 0):
        """Iterate the batches of `epoch` from batch `start` (for resuming)."""
        for i in range(start, len(self)):
            yield self.batch(epoch, i)


def oversample(dataset: HandDataset, spec: str) -> np.ndarray:
    """`HandBatches` repeats from "REGEX=K": K for each line whose text matches REGEX
    (re.search), 1 for the others. E.g. "[0-9]=8": lines with digits 8 times an epoch."""
    pattern, sep, k = spec.rpartition("=")
    if not sep or not pattern or not k.strip().isdigit() or not 1 <= int(k) <= 1000:
        raise GenseqError(f"--oversample takes REGEX=K with K in 1..1000, got {spec!r}")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise GenseqError(f"--oversample: {pattern!r} is not a regular expression: {e}") from e
    texts = dataset.cache.texts
    hits = np.array([bool(rx.search(texts[p])) for p in dataset.positions], bool)
    if not hits.any():
        raise GenseqError(f"--oversample: no {dataset.split} line matches {pattern!r}")
    return np.where(hits, int(k), 1).astype(np.int64)
