"""`genseq hand prepare`'s report on a cache: lines per split, dropped lines and why, points
per line and character, normalisation statistics, alphabets and preprocessing (§4)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from genseq.hand.alphabet import get_alphabet
from genseq.hand.cache import HandCache
from genseq.hand.iamondb import PAPER_SETS, SPLITS


def cache_summary(cache: HandCache) -> str:
    """Lines per split, dropped lines and why, points per line/character, alphabet sizes."""
    out = _split_lines(cache) + _dropped_lines(cache) + _figure_lines(cache)
    clean = cache.meta.get("clean", {})
    if clean.get("extra"):
        out.append(f"extra cleaning (not in the paper): {', '.join(clean['extra'])}")
    out.append(_preprocessing_summary(cache))
    return "\n".join(out)


def _split_lines(cache: HandCache) -> list[str]:
    """Lines per official split list (in the XML, and kept) and per paper set (§4)."""
    counts = Counter(cache.splits)
    out = []
    xml = cache.meta.get("xml_split_sizes")
    if xml:
        out.append(
            "XML lines per split: "
            + ", ".join(f"{k} {v}" for k, v in xml.items())
            + f" (total {sum(xml.values())})"
        )
    out.append(
        f"kept lines: {len(cache)} = " + ", ".join(f"{s} {counts.get(s, 0)}" for s in SPLITS)
    )
    for name, parts in PAPER_SETS.items():
        sel = cache.select(name)
        untranscribed = sum(1 for p in sel if not cache.texts[p])
        out.append(
            f"  paper {name} set ({'+'.join(parts)}): {len(sel)} lines"
            + (f" ({untranscribed} without transcription)" if untranscribed else "")
        )
    return out


def _dropped_lines(cache: HandCache) -> list[str]:
    """The reader's problems and the lines cleaning dropped, by reason, with a few ids."""
    out = []
    for reason, ids in sorted(cache.meta.get("problems", {}).items()):
        out.append(
            f"reader problem: {reason}: {len(ids)} ({', '.join(ids[:4])}"
            f"{' ...' if len(ids) > 4 else ''})"
        )
    dropped = cache.meta.get("dropped", {})
    out.append(f"dropped lines: {sum(len(v) for v in dropped.values())}")
    for reason, ids in sorted(dropped.items()):
        out.append(f"  {reason}: {len(ids)} ({', '.join(ids[:4])}{' ...' if len(ids) > 4 else ''})")
    return out


def _figure_lines(cache: HandCache) -> list[str]:
    """Points per line and per character, the normalisation statistics, the alphabets."""
    lengths = cache.lengths()
    chars = np.array([len(t) for t in cache.texts])
    has_text = chars > 0
    s = cache.stats
    return [
        f"points per line: mean {lengths.mean():.1f}, max {lengths.max()}, "
        f"min {lengths.min()}; points per character: "
        f"{lengths[has_text].sum() / chars.sum():.1f}",
        f"offset stats ({s.source}): mean ({s.mean[0]:.3f}, {s.mean[1]:.3f}), "
        f"std ({s.std[0]:.3f}, {s.std[1]:.3f}) over {s.n_points} points",
        f"alphabet: {len(cache.alphabet)} characters (full), "
        f"{len(get_alphabet('paper57'))} (paper57): {''.join(cache.alphabet.symbols)!r}",
    ]


def _preprocessing_summary(cache: HandCache) -> str:
    """Which preprocessing (§4), what it did, and the points per validation line."""
    valid = cache.select("valid")
    per_line = f"{cache.lengths()[valid].mean():.1f}" if len(valid) else "-"
    text = f"preprocessing: {cache.meta.get('preprocessing', 'raw')}"
    paper = cache.meta.get("clean", {}).get("paper")
    if paper:
        n = cache.meta.get("clean_counts", {})
        text += (
            f" (pen-down gaps of {paper['gap_factor']} periods to {paper['max_gap']} s filled: "
            f"{n.get('interpolated', 0)} points interpolated in {n.get('gaps', 0)} gaps; "
            f"{n.get('removed', 0)} pen-down steps > {paper['max_step']} units removed)"
        )
    return text + f"; points per testset_v line: mean {per_line}"
