"""Text metrics (§3): cross-entropy, bits per character, perplexity, next-symbol error %,
static and with dynamic evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm import tqdm

from genseq.nn.util import eval_mode
from genseq.text.model import TextModel, nll


@dataclass
class TextMetrics:
    nats: float  # mean −log Pr per symbol (eq. 6 / number of predictions)
    error: float  # % of next symbols whose argmax prediction is wrong
    symbols: int
    level: str

    def as_dict(self) -> dict[str, float]:
        d = {"nats": self.nats, "error": self.error, "symbols": self.symbols}
        if self.level == "word":
            d["ppl"] = math.exp(self.nats)  # perplexity
        else:
            d["bpc"] = self.nats / math.log(2)  # bits per character (or per byte)
        return d


def display(nats: float, level: str) -> dict[str, float]:
    return {"ppl": math.exp(min(nats, 50))} if level == "word" else {"bpc": nats / math.log(2)}


def evaluate(
    model: TextModel,
    data: Tensor,
    level: str,
    batch_size: int = 16,
    seq_len: int = 100,
    dynamic: bool = False,
    dynamic_lr: float = 1e-4,
    progress: bool = False,
    dynamic_momentum: float = 0.0,
) -> TextMetrics:
    """Predict every symbol of `data` (1-D ids) from the ones before it.

    The stream is cut into `batch_size` contiguous parallel streams; hidden state carries
    across segments of `seq_len`. With `dynamic` (Graves §3, dynamic evaluation), after
    predicting each segment the model takes one SGD step on it, so its weights adapt to the
    text just seen. The step follows the paper's training update: the gradient of the
    segment's SUMMED loss (eq. 6 over its symbols: ε = ∂C(x)/∂w of a sequence x, one per
    stream), times `dynamic_lr`, with `dynamic_momentum` (§3 trains with 0.99). Derivative
    clips act per stream (genseq.nn.clip: the summed loss weighs each stream by 1). With
    `dynamic_lr` 0 the figures are the static ones exactly. The model's weights are restored
    afterwards.
    """
    from genseq.text.corpus import StreamBatches

    batches = StreamBatches(data, batch_size, seq_len)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()} if dynamic else None
    opt = (
        torch.optim.SGD(model.parameters(), lr=dynamic_lr, momentum=dynamic_momentum)
        if dynamic
        else None
    )
    total, wrong, n = 0.0, 0, 0
    state = None
    try:
        with eval_mode(model):
            for i in tqdm(range(len(batches)), disable=not progress, unit="seg", desc="eval"):
                x, y = batches.batch(i)
                with torch.set_grad_enabled(dynamic):
                    logits, state = model(x, state)
                    loss = nll(logits, y)
                total += loss.sum().item()
                wrong += (logits.argmax(-1) != y).sum().item()
                n += y.numel()
                if opt is not None:
                    opt.zero_grad(set_to_none=True)
                    loss.sum().backward()  # the summed per-sequence gradient, as §3 trains
                    opt.step()
                state = (state[0].detach(), state[1].detach())
    finally:
        if saved is not None:
            model.load_state_dict(saved)
    return TextMetrics(
        nats=total / max(n, 1), error=100.0 * wrong / max(n, 1), symbols=n, level=level
    )
