"""Sampling text (§3): prime the network with a string, then draw one symbol at a time from
softmax(logits / temperature), feeding each back as the next input."""

from __future__ import annotations

import codecs
from collections.abc import Iterator

import torch

from genseq.errors import GenseqError
from genseq.limits import MAX_TEXT_SAMPLE
from genseq.text.corpus import Vocab
from genseq.text.model import TextModel


@torch.inference_mode()
def sample(
    model: TextModel,
    vocab: Vocab,
    prime: str = "",
    length: int = 500,
    temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """Yield `length` sampled symbols (decoded), one at a time, after running on `prime`."""
    if temperature <= 0:
        raise GenseqError("--temperature must be > 0")
    if not 0 <= length <= MAX_TEXT_SAMPLE:
        raise GenseqError(f"--length must be between 0 and {MAX_TEXT_SAMPLE:,}")
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    model.eval()
    ids = vocab.encode(prime) if prime else []
    state = None
    if ids:
        logits, state = model(torch.tensor([ids]), state)
        logits = logits[0, -1]
    else:  # x_1 is a null vector (§2): the first prediction is made with no information
        zero = torch.zeros(1, 1, model.lstm.cfg.input_size)
        h, state = model.lstm(zero)
        logits = model.head(h)[0, -1]
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")  # byte level: whole chars
    for _ in range(length):
        p = torch.softmax(logits / temperature, -1)
        nxt = int(torch.multinomial(p, 1, generator=gen))
        if vocab.level == "byte":
            yield utf8.decode(vocab.decode_bytes([nxt]))
        elif vocab.level == "word":
            yield vocab.decode([nxt]) + ("" if vocab.symbols[nxt] == "<eos>" else " ")
        else:
            yield vocab.decode([nxt])
        logits, state = model.step(torch.tensor([nxt]), state)
        logits = logits[0]
