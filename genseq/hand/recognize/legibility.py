"""Legibility of written handwriting, measured by the recognizer (no person looking).

`legibility`: the synthesis network writes each phrase (per bias and seed), the recognizer reads
it back, and CER / WER against the phrase are reported per bias. `floor`: the recognizer's own
CER / WER on real IAM-OnDB lines (testset_v), the best a writer can be expected to score.

`write_legible` (`genseq write --legible N`): write every line up to N times (seeds seed,
seed + 1, ...) and keep, per line, the try the recognizer reads closest to the line's text
(edit distance; the first try on a tie; a line read exactly stops its tries). A run-on line
(letters or scribbles after the text) reads as extra characters, so it loses to a clean try.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from genseq.hand.page import Page, write_page
from genseq.hand.recognize.metrics import edit_distance, error_counts, rates
from genseq.hand.recognize.read import LoadedRecognizer
from genseq.hand.sample import HandModel, generator, synthesize_text
from genseq.hand.sampling import Synthesis
from genseq.hand.styles import Style

DEFAULT_PHRASES = (  # 50 phrases of our choosing: IAM-OnDB's alphabet, 2 to 7 words
    "the quick brown fox",
    "jumps over the lazy dog",
    "a handwritten line of text",
    "pack my box with five dozen jugs",
    "hello world",
    "recurrent neural networks",
    "generating sequences",
    "long short term memory",
    "she sells sea shells",
    "by the sea shore",
    "an apple a day",
    "keeps the doctor away",
    "all that glitters is not gold",
    "to be or not to be",
    "that is the question",
    "the early bird catches the worm",
    "time flies like an arrow",
    "fruit flies like a banana",
    "a stitch in time saves nine",
    "where there is a will",
    "there is a way",
    "every cloud has a silver lining",
    "actions speak louder than words",
    "practice makes perfect",
    "better late than never",
    "the pen is mightier than the sword",
    "knowledge is power",
    "a picture is worth a thousand words",
    "rome was not built in a day",
    "when in Rome do as the Romans do",
    "the grass is always greener",
    "on the other side",
    "do not count your chickens",
    "before they hatch",
    "birds of a feather flock together",
    "fortune favours the bold",
    "honesty is the best policy",
    "laughter is the best medicine",
    "look before you leap",
    "no news is good news",
    "out of sight out of mind",
    "the end justifies the means",
    "two heads are better than one",
    "Alex Graves wrote this paper",
    "Monday morning in London",
    "It was a bright cold day in April",
    "and the clocks were striking thirteen",
    "Call me Ishmael.",
    "Some years ago, never mind how long",
    "I think, therefore I am.",
)


def to_reader(syn_model: HandModel, rec: LoadedRecognizer, strokes: list[torch.Tensor]):
    """The synthesis network's normalised offsets -> the recognizer's normalisation."""
    return [rec.stats.normalise(syn_model.stats.denormalise(s.numpy())) for s in strokes]


@dataclass
class Tries:
    """The best try of each line so far (per line: edit distance, reading, synthesis parts)."""

    texts: list[str]

    def __post_init__(self) -> None:
        n = len(self.texts)
        self.best: list[float] = [math.inf] * n
        self.reads: list[str] = [""] * n
        self.strokes: list[torch.Tensor] = [torch.zeros(0, 3)] * n
        self.phi: list[torch.Tensor] = [torch.zeros(0, 1)] * n
        self.stopped: list[bool] = [False] * n
        self.ids: list[torch.Tensor] = [torch.zeros(0, dtype=torch.long)] * n
        self.tries: list[int] = [0] * n

    def offer(self, syn: Synthesis, reads: list[str], rows: list[int]) -> None:
        """Try j of `syn` wrote line rows[j] and was read as reads[j]."""
        for j, row in enumerate(rows):
            self.tries[row] += 1
            d = edit_distance(self.texts[row], reads[j])
            if d < self.best[row]:
                self.best[row], self.reads[row] = d, reads[j]
                self.strokes[row], self.phi[row] = syn.strokes[j], syn.phi[j]
                self.stopped[row], self.ids[row] = syn.stopped[j], syn.text[j]

    def synthesis(self) -> Synthesis:
        return Synthesis(self.strokes, self.phi, self.stopped, self.ids)


def write_legible(
    model: HandModel,
    rec: LoadedRecognizer,
    lines: list[str],
    n: int,
    bias: float = 0.0,
    style: Style | None = None,
    seed: int | None = None,
    precision: str = "fp32",
) -> Tries:
    """Write non-empty `lines` up to n times each; keep the best-read try of each line.
    precision: the sampler's GEMMs (`synthesize_text`)."""
    best = Tries(list(lines))
    rows = list(range(len(lines)))
    for k in range(max(1, n)):
        s = None if seed is None else seed + k
        todo = [lines[r] for r in rows]
        syn = synthesize_text(model, todo, bias, style, generator(s), precision=precision)
        reads = rec.read(to_reader(model, rec, syn.strokes))
        best.offer(syn, reads, rows)
        rows = [r for r in range(len(lines)) if best.best[r] > 0]
        if not rows:
            break
    return best


def write_page_legible(
    model: HandModel,
    rec: LoadedRecognizer,
    text: str,
    n: int,
    width: int = 40,
    bias: float = 0.0,
    style: Style | None = None,
    seed: int | None = None,
    precision: str = "fp32",
) -> Page:
    """`genseq.hand.page.write_page` with the best of up to n tries per line."""

    def best_of_n(lines: list[str]) -> Synthesis:
        return write_legible(model, rec, lines, n, bias, style, seed, precision).synthesis()

    return write_page(model, text, width, bias, style, seed, write_lines=best_of_n)


def legibility(
    model: HandModel,
    rec: LoadedRecognizer,
    phrases: list[str] | tuple[str, ...] = DEFAULT_PHRASES,
    biases: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0),
    seeds: int = 3,
    legible: int = 1,
) -> list[dict]:
    """Per bias: CER, WER and counts over len(phrases) x seeds written lines, read back
    (each line the best of `legible` tries)."""
    out = []
    for b in biases:
        refs, hyps, stopped = [], [], 0
        for s in range(seeds):
            t = write_legible(model, rec, list(phrases), legible, b, seed=1000 * s)
            refs += t.texts
            hyps += t.reads
            stopped += sum(t.stopped)
        c = error_counts(refs, hyps)
        out.append(
            {
                "bias": b,
                **rates(c),
                "lines": c["lines"],
                "finished": stopped,  # lines the §5.3 stop rule ended (not the step cap)
                "examples": list(zip(refs[:3], hyps[:3], strict=True)),
            }
        )
    return out


def floor(
    rec: LoadedRecognizer,
    cache: str,
    decoder: str | None = None,
    beam: int = 1,
    lm_weight: float | None = None,
    bonus: float | None = None,
    first: int | None = None,
) -> dict:
    """The recognizer's CER / WER on every transcribed testset_v line of an IAM-OnDB cache
    (or its `first` lines), read as `LoadedRecognizer.read` reads (CTC with beam > 1: prefix
    beam search with the recognizer's language model, lm_weight and bonus as given or tuned)."""
    from genseq.hand.data import HandCache, HandDataset

    ds = HandDataset(HandCache.load(cache), "valid", alphabet=rec.alphabet)
    ds.stats = rec.stats
    k = len(ds) if first is None else min(first, len(ds))
    lines = [ds.strokes(i) for i in range(k)]
    order = np.argsort([len(s) for s in lines])  # similar lengths per batch: little padding
    reads = rec.read([lines[i] for i in order], decoder, beam, lm_weight=lm_weight, bonus=bonus)
    hyps = [""] * len(lines)
    for i, r in zip(order.tolist(), reads, strict=True):
        hyps[i] = r
    c = error_counts([ds[i].text for i in range(k)], hyps)
    return {**rates(c), "lines": c["lines"]}
