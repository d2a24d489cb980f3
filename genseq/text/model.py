"""TextModel (§3): one-hot symbols → DeepLSTM → softmax over the next symbol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.errors import GenseqError
from genseq.nn.lstm import DeepLSTM, LSTMConfig, State
from genseq.nn.trace import LayerTrace, trace_lstm
from genseq.nn.util import eval_mode
from genseq.text.corpus import Vocab
from genseq.train.checkpoint import load_model
from genseq.train.registry import Configurable, register_model


@dataclass
class TextModelConfig:
    vocab_size: int
    hidden_size: int = 1000  # Table 1: one layer of 1000 LSTM units
    num_layers: int = 1
    peepholes: bool = False
    dropout: float = 0.0
    lstm_grad_clip: float = 0.0  # Graves: LSTM derivatives clipped to [-1, 1] for text
    embed_size: int = 0  # 0: one-hot input as in the paper; >0: learned embedding (word level)


@register_model
class TextModel(Configurable, nn.Module):
    kind = "text"
    needs = ("vocab",)  # in config.json beside the model config
    config_cls = TextModelConfig

    def __init__(self, cfg: TextModelConfig):
        super().__init__()
        self.cfg = cfg
        V = cfg.vocab_size
        self.embed = nn.Embedding(V, cfg.embed_size) if cfg.embed_size > 0 else None
        self.lstm = DeepLSTM(
            LSTMConfig(
                input_size=cfg.embed_size or V,
                hidden_size=cfg.hidden_size,
                num_layers=cfg.num_layers,
                peepholes=cfg.peepholes,
                dropout=cfg.dropout,
                grad_clip=cfg.lstm_grad_clip,
            )
        )
        self.head = nn.Linear(self.lstm.output_size, V)  # eq. 3: every layer feeds the output

    def _input(self, ids: Tensor) -> Tensor:
        """The LSTM's input x_t for symbol ids: a learned embedding, or the paper's one-hot
        vector. One-hot goes in as the ids themselves (a lookup of W's column, genseq.nn.lstm)
        when the vocabulary is larger than the hidden layer, where the dense product
        B·T·V·4H would outweigh the recurrence's B·T·H·4H (a word model: V = 10,000); a small
        vocabulary goes in as dense vectors, which keeps the fused LSTM kernel."""
        if self.embed is not None:
            return self.embed(ids)
        if self.cfg.vocab_size > self.cfg.hidden_size:
            return ids
        return F.one_hot(ids, self.cfg.vocab_size).to(self.head.weight.dtype)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids (B,T) → logits (B,T,V) of Pr(x_{t+1} | y_t) (eq. 5 softmax), new state."""
        h, state = self.lstm(self._input(ids), state)
        return self.head(h), state

    def step(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids (B,) → logits (B,V), new state (one time step, for sampling)."""
        h, state = self.lstm.step(self._input(ids), state)
        return self.head(h), state


def nll(logits: Tensor, targets: Tensor) -> Tensor:
    """eq. 6 per symbol: −log Pr(x_{t+1} | y_t), in nats, shape of targets (in fp32 whatever
    precision the logits were computed in)."""
    flat = logits.flatten(0, -2)
    flat = flat.float() if flat.dtype in (torch.bfloat16, torch.float16) else flat
    return F.cross_entropy(flat, targets.flatten(), reduction="none").view_as(targets)


@dataclass
class LanguageModel:
    """A trained text model with its vocabulary, as `load_text_model` returns it."""

    net: TextModel
    vocab: Vocab
    config: dict  # config.json: the model's, the vocabulary's, the run's settings

    def trace(self, text: str) -> list[LayerTrace]:
        """Every layer's gates, cell and hidden state (eqs 7-11) while the model reads `text`
        (genseq.nn.trace): one `LayerTrace` per layer, bottom first, each field (1, T, H),
        step t having read the t-th symbol."""
        ids = self.vocab.encode_tensor(text)
        if len(ids) == 0:
            raise GenseqError("nothing to trace: the text is empty")
        with eval_mode(self.net):
            return trace_lstm(self.net.lstm, self.net._input(ids[None]))


def load_text_model(name_or_dir: str | Path) -> LanguageModel:
    """A text model from a run directory or a shipped model's name, with its vocabulary."""
    net, cfg = load_model(name_or_dir)
    if not isinstance(net, TextModel):
        raise GenseqError(f"{name_or_dir} holds a {cfg['kind']} model, not a text model")
    return LanguageModel(net, Vocab.from_json(cfg["vocab"]), cfg)
