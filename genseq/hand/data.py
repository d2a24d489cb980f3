"""Training-ready handwriting data, one module a concern, every name importable from here:

- `genseq.hand.cache`: the prepared cache (`HandCache`, `build_cache`, `resolve_split`);
- `genseq.hand.summary`: its report (`cache_summary`);
- `genseq.hand.dataset`: a normalised view of one set (`HandDataset`, `HandLine`, `collate`);
- `genseq.hand.batches`: deterministic length-bucketed batches (`HandBatches`).
"""

from __future__ import annotations

from genseq.hand.batches import HandBatches
from genseq.hand.cache import CACHE_VERSION, NOT_IN_SPLIT, HandCache, build_cache, resolve_split
from genseq.hand.dataset import HandDataset, HandLine, collate
from genseq.hand.summary import cache_summary

__all__ = [
    "CACHE_VERSION",
    "NOT_IN_SPLIT",
    "HandBatches",
    "HandCache",
    "HandDataset",
    "HandLine",
    "build_cache",
    "cache_summary",
    "collate",
    "resolve_split",
]
