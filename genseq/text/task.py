"""Text prediction as a trainer `Task`: B parallel streams, truncated BPTT (§3)."""

from __future__ import annotations

from torch import Tensor

from genseq.text.corpus import Corpus, StreamBatches
from genseq.text.evaluate import display, evaluate
from genseq.text.model import TextModel, nll
from genseq.train.trainer import Carry


class TextTask:
    def __init__(
        self,
        corpus: Corpus,
        batch_size: int = 32,
        seq_len: int = 100,
        eval_batch_size: int = 16,
        eval_symbols: int = 0,  # 0: the whole validation split; else its first N symbols
    ):
        self.corpus = corpus
        self.level = corpus.vocab.level
        self.unit = "word" if self.level == "word" else "char"
        self.primary = "ppl" if self.level == "word" else "bpc"
        self.batches = StreamBatches(corpus.train, batch_size, seq_len)
        self.seq_len, self.eval_batch_size = seq_len, eval_batch_size
        self.valid = corpus.valid[:eval_symbols] if eval_symbols > 0 else corpus.valid

    def num_batches(self) -> int:
        return len(self.batches)

    def loss(
        self, model: TextModel, epoch: int, i: int, carry: Carry
    ) -> tuple[Tensor, float, Carry]:
        x, y = self.batches.batch(i)  # the same streams every epoch, in order
        state = (carry["h"], carry["c"]) if carry else None
        logits, (h, c) = model(x, state)
        return nll(logits, y).mean(), float(y.numel()), {"h": h, "c": c}

    def evaluate(self, model: TextModel) -> dict[str, float]:
        m = evaluate(model, self.valid, self.level, self.eval_batch_size, self.seq_len)
        return m.as_dict()

    def display(self, nats: float) -> dict[str, float]:
        return display(nats, self.level)
