"""Edit-distance error rates of a recognizer: CER (characters) and WER (words).

Both are corpus-level: Σ edit distances / Σ reference lengths over all lines (so a long line
weighs more than a short one, as in the IAM-OnDB literature). The edit distance is
Levenshtein's: the fewest insertions, deletions and substitutions turning one sequence into
the other.
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (strings, word lists, id lists)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_counts(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, int]:
    """Character and word edit distances summed over lines, and the reference lengths.
    Words are whitespace-separated; texts are compared as given (case and punctuation count)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    c = {"char_errors": 0, "chars": 0, "word_errors": 0, "words": 0, "lines": len(refs)}
    for r, h in zip(refs, hyps, strict=True):
        c["char_errors"] += edit_distance(r, h)
        c["chars"] += len(r)
        c["word_errors"] += edit_distance(r.split(), h.split())
        c["words"] += len(r.split())
    return c


def rates(counts: dict[str, int]) -> dict[str, float]:
    """{"cer", "wer"} from `error_counts`."""
    return {
        "cer": counts["char_errors"] / max(counts["chars"], 1),
        "wer": counts["word_errors"] / max(counts["words"], 1),
    }


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Character error rate: Σ edit distance / Σ reference characters."""
    return rates(error_counts(refs, hyps))["cer"]


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Word error rate: Σ word-level edit distance / Σ reference words."""
    return rates(error_counts(refs, hyps))["wer"]
