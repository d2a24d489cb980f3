"""The optional legibility score of a written line: 1 - the character error rate of what a
handwriting recognizer reads back. Used only where `genseq.recognize` can be imported and a
`recognizer` model is shipped (or given); otherwise the web app shows no score and depends on
nothing here.

The hook expects `genseq.recognize.read(model, points) -> str`, with `model` what
`genseq.load(name)` returns and `points` (N, 3) absolute pen points (x, y up, e); where the
recognizer's API differs, `_reader` is the one place to adapt."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

import numpy as np

from genseq.errors import GenseqError

Scorer = Callable[[np.ndarray, str], float | None]
log = logging.getLogger("genseq.web")


def cer(truth: str, read: str) -> float:
    """Character error rate: Levenshtein distance / len(truth) (1.0 for an empty truth with
    any reading)."""
    prev = list(range(len(read) + 1))
    for i, a in enumerate(truth, 1):
        cur = [i]
        for j, b in enumerate(read, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1] / len(truth) if truth else float(bool(read))


def _reader(model_name: str) -> Callable[[np.ndarray], str] | None:
    """recognize.read bound to its loaded model, or None where there is none."""
    try:
        rec = importlib.import_module("genseq.recognize")
    except ImportError:
        return None
    read = getattr(rec, "read", None)
    if not callable(read):
        log.warning("genseq.recognize has no read(model, points): no legibility scores")
        return None
    from genseq.api import load

    try:
        model = load(model_name)
    except GenseqError:
        return None  # no recognizer shipped
    return lambda points: str(read(model, points))


def scorer(model_name: str = "recognizer") -> Scorer | None:
    """A function (absolute points of one line, its text) -> legibility in [0, 1] (None when
    the recognizer fails on a line), or None where no recognizer is installed."""
    read = _reader(model_name)
    if read is None:
        return None

    def score(points: np.ndarray, text: str) -> float | None:
        try:
            return round(max(0.0, 1.0 - cer(text, read(points))), 3)
        except Exception:  # a recognizer's failure costs the score, never the page
            log.exception("the recognizer failed on a line")
            return None

    return score
