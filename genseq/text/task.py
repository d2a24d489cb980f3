"""Text prediction as a trainer `Task`: B parallel streams, truncated BPTT (§3)."""

from __future__ import annotations

import torch
from torch import Tensor

from genseq.errors import GenseqError
from genseq.nn.clip import per_sequence_clips
from genseq.text.corpus import Corpus, StreamBatches
from genseq.text.evaluate import display, evaluate
from genseq.text.model import TextModel, nll
from genseq.train.config import Carry
from genseq.train.noisy import group_rows


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
        self.rank, self.world = 0, 1
        self.group = (0, 1)  # noise group (g, G) being served (genseq.train.noisy)

    def shard(self, rank: int, world: int) -> None:
        """Data parallel: this process trains on its streams of every batch (rows `rank` of
        `world`, genseq.train.distributed.shard_slice); the others train on the rest."""
        if world > self.batches.batch_size:
            raise GenseqError(f"{world} processes need --batch-size >= {world}")
        self.rank, self.world = rank, world

    def num_batches(self) -> int:
        return len(self.batches)

    def complexity_weight(self) -> float:
        """Share of adaptive noise's L^C per update: 1 / symbols per epoch."""
        return 1.0 / (self.batches.batch_size * self.seq_len * self.num_batches())

    def loss(
        self, model: TextModel, epoch: int, i: int, carry: Carry
    ) -> tuple[Tensor, float, Carry]:
        x, y = self.batches.batch(i)  # the same streams every epoch, in order
        n_all = y.numel()
        grouped = self.world > 1 or self.group[1] > 1  # a rank's rows / a noise group's
        if grouped:
            rows = group_rows(x.shape[0], self.rank, self.world, self.group)
            if rows.start == rows.stop:
                return torch.zeros((), requires_grad=True), 0.0, None
            x, y = x[rows], y[rows]
        state = (carry["h"], carry["c"]) if carry else None
        with per_sequence_clips(self.world / n_all):  # ∂loss/∂L(stream j): clips per sequence
            logits, (h, c) = model(x, state)
        loss = nll(logits, y)
        if grouped:  # gradient: world x this shard's share of the global mean (DDP
            # averages over ranks); value: this shard's mean (the trainer sums over ranks)
            scaled = loss.sum() * (self.world / n_all)
            return scaled + (loss.mean() - scaled).detach(), float(y.numel()), {"h": h, "c": c}
        return loss.mean(), float(y.numel()), {"h": h, "c": c}

    def carry_shapes(
        self, model: TextModel, epoch: int, i: int
    ) -> dict[str, tuple[int, ...]] | None:
        """The carry step i reads, as a checkpoint holds it: (h, c) of every layer for all the
        batch's streams (under DDP gathered from every rank; None at an epoch's first step,
        which starts from zeros). A resumed checkpoint's carry is checked against it
        (genseq.train.state)."""
        if i == 0:
            return None
        rows = self.batches.batch_size
        shape = (model.lstm.cfg.num_layers, rows, model.lstm.cfg.hidden_size)
        return {"h": shape, "c": shape}

    def evaluate(self, model: TextModel) -> dict[str, float]:
        m = evaluate(model, self.valid, self.level, self.eval_batch_size, self.seq_len)
        return m.as_dict()

    def display(self, nats: float) -> dict[str, float]:
        return display(nats, self.level)
