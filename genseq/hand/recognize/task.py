"""Recognizer training as a trainer `Task`, and its evaluation (CER / WER).

Batches come from `genseq.hand.data.HandBatches` (normalised strokes, lengths, text codes).
The loss is the recognizer's joint loss per character (`Recognizer.loss`), so the trainer's
running mean is nats per character; `unit` = "char" counts the decoder's scored tokens
(characters and the end symbol). Validation reads the lines and scores the transcriptions:
`primary` = "cer", the lower of the two heads' character error rates.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.recognize.metrics import error_counts, rates
from genseq.hand.recognize.model import DECODERS, Recognizer
from genseq.hand.task import Batcher
from genseq.train.trainer import Carry


class RecogTask:
    unit = "char"
    primary = "cer"

    def __init__(
        self,
        train: Batcher,
        valid: Batcher | None,
        alphabet: Alphabet,
        eval_batches: int = 0,
    ):
        self.train, self.valid, self.alphabet = train, valid, alphabet
        self.eval_batches = eval_batches

    def num_batches(self) -> int:
        return len(self.train)

    def loss(
        self, model: nn.Module, epoch: int, i: int, carry: Carry
    ) -> tuple[Tensor, float, Carry]:
        b = self.train.batch(epoch, i)
        parts = model.losses(b["strokes"], b["lengths"], b["text"])
        return model.loss(parts), float(parts["n_ce"]), None

    def display(self, nats_per_unit: float) -> dict[str, float]:
        return {}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.valid is None:
            raise GenseqError("no validation data")
        return evaluate(model, self.valid, self.alphabet, self.eval_batches)


def read_batches(
    model: Recognizer,
    batches: Batcher,
    alphabet: Alphabet,
    decoder: str,
    max_batches: int = 0,
    beam: int = 1,
) -> tuple[list[str], list[str]]:
    """(references, transcriptions) of the first `max_batches` batches (0 = all)."""
    n = len(batches) if max_batches <= 0 else min(max_batches, len(batches))
    refs, hyps = [], []
    for i in range(n):
        b = batches.batch(0, i)
        codes = model.decode(b["strokes"], b["lengths"], decoder, beam)
        for c, ref in zip(codes, b["text"], strict=True):
            hyps.append(alphabet.decode(c))
            refs.append(alphabet.decode([int(c) for c in ref if c != 0]))
    return refs, hyps


def evaluate(
    model: Recognizer, batches: Batcher, alphabet: Alphabet, max_batches: int = 0
) -> dict[str, float]:
    """CER and WER of every head on `batches` (epoch 0), and "cer" = the best head's."""
    was = model.training
    model.eval()
    out: dict[str, Any] = {}
    try:
        with torch.no_grad():
            for dec in DECODERS:
                if dec == "ctc" and not model.cfg.ctc:
                    continue
                c = error_counts(*read_batches(model, batches, alphabet, dec, max_batches))
                out.update({f"{k}_{dec}": v for k, v in rates(c).items()})
                out["lines"] = float(c["lines"])
    finally:
        model.train(was)
    out["cer"] = min((v for k, v in out.items() if k.startswith("cer_")), default=math.inf)
    return out
