"""The optional legibility score of written lines: 1 - the character error rate of what the
handwriting recognizer (issue 13) reads back. Used only where its package
(`genseq.hand.recognize`) can be imported and a `recognizer` model is shipped (or given);
otherwise the web app shows no score and depends on nothing here.

The recognizer's API used: `read.load_recognizer(name)` -> a model whose
`read_raw(lines) -> texts` reads lines of raw (de-normalised) pen offsets (T, 3), and
`metrics.edit_distance(a, b)`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from genseq.errors import GenseqError

# (each line's raw pen offsets (T, 3), the line's text) -> legibility per line in [0, 1]
Scorer = Callable[[list[np.ndarray], list[str]], list[float | None]]
log = logging.getLogger("genseq.web")


def scorer(model_name: str = "recognizer") -> Scorer | None:
    """The recognizer as a `Scorer`, or None where there is none; a line the recognizer
    fails on gets no score (None), never a failed page."""
    try:
        from genseq.hand.recognize.metrics import edit_distance
        from genseq.hand.recognize.read import load_recognizer
    except ImportError:
        return None
    try:
        rec = load_recognizer(model_name)
    except GenseqError as e:
        log.info("no legibility scores: %s", e)
        return None

    def score(lines: list[np.ndarray], texts: list[str]) -> list[float | None]:
        try:
            reads = rec.read_raw(lines)
        except Exception:  # the recognizer's failure costs the scores, never the page
            log.exception("the recognizer failed on a page")
            return [None] * len(texts)
        out: list[float | None] = []
        for text, read in zip(texts, reads, strict=True):
            cer = edit_distance(text, read) / max(1, len(text))
            out.append(round(max(0.0, 1.0 - cer), 3))
        return out

    return score
