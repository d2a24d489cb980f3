"""The handwriting recognizer: pen offsets -> characters of a genseq alphabet.

Input: lines as the synthesis network sees them (§4): normalised offsets (Δx, Δy, e) with the
training set's `NormStats`, first offset (0, 0). Features (`features`), per point:
    (Δx, Δy, e, y)   y = the pen's height Σ_{s<=t} Δy_s minus its mean over the line, / 7
(offsets alone make the height of a stroke above the line's middle, which separates a from g
or e from l, a long sum for the network; 7 std of Δy is IAM-OnDB's median core height, see
genseq.hand.styles). Then `downsample` consecutive points are stacked into one frame
(T/k frames of 4k features: shorter sequences for the encoder, no information lost).

Network: `genseq.nn.seq2seq.Seq2Seq` over those frames, with a CTC head beside the attention
decoder (trained jointly: `ctc_weight` x CTC + (1 - ctc_weight) x cross-entropy, per character).
`decoder` names the head that reads by default ("ctc": best path, or with beam > 1 prefix beam
search with an optional character language model (genseq.nn.ctc_beam); "attention": greedy or
beam).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genseq.nn.ctc_beam import CTCBeam, LMScorer, ctc_beam
from genseq.nn.seq2seq import Seq2Seq, Seq2SeqConfig, ctc_greedy
from genseq.train.registry import Configurable, register_model

HEIGHT_SCALE = 7.0  # IAM-OnDB median core height in std(Δy) (genseq.hand.styles.CORE_HEIGHT_STD)
N_FEATURES = 4
DECODERS = ("ctc", "attention")


@dataclass
class RecognizerConfig:
    counts_padding: ClassVar[bool] = False  # alphabet_size excludes code 0 (validate.py)
    alphabet_size: int  # symbols (codes 1..alphabet_size; 0 = end / blank)
    downsample: int = 4  # points stacked per encoder frame
    height: bool = True  # the pen-height feature y (off: offsets and e only)
    enc_hidden: int = 128
    enc_layers: int = 2
    dec_hidden: int = 256
    embed: int = 64
    attention: int = 128
    location: int = 8
    dropout: float = 0.0
    ctc: bool = True
    ctc_weight: float = 0.5  # of the joint training loss
    decoder: str = "ctc"  # the head `read` uses by default


def features(
    strokes: Tensor, lengths: Tensor, downsample: int, height: bool = True
) -> tuple[Tensor, Tensor]:
    """Padded normalised offsets (B,T,3) + lengths (B,) -> frames (B, ceil(T/k), 4k) and frame
    counts ceil(L/k); everything past a line's end is zero (y too, without `height`)."""
    B, T, _ = strokes.shape
    mask = (torch.arange(T) < lengths.unsqueeze(1)).unsqueeze(-1)
    x = strokes * mask
    y = x[..., 1:2].cumsum(1)  # the pen's height (normalised units)
    n = lengths.clamp(min=1).view(B, 1, 1).float()
    y = (y - (y * mask).sum(1, keepdim=True) / n) / HEIGHT_SCALE if height else torch.zeros_like(y)
    f = torch.cat([x, y], -1) * mask
    k = downsample
    pad = (-T) % k
    if pad:
        f = torch.cat([f, f.new_zeros(B, pad, N_FEATURES)], 1)
    return f.reshape(B, -1, N_FEATURES * k), (lengths + k - 1) // k


@register_model
class Recognizer(Configurable, nn.Module):
    kind = "recog"
    config_cls = RecognizerConfig

    def __init__(self, cfg: RecognizerConfig):
        super().__init__()
        if cfg.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {cfg.decoder!r}")
        self.cfg = cfg
        self.net = Seq2Seq(
            Seq2SeqConfig(
                vocab_size=cfg.alphabet_size + 1,
                input_size=N_FEATURES * cfg.downsample,
                enc_hidden=cfg.enc_hidden,
                enc_layers=cfg.enc_layers,
                dec_hidden=cfg.dec_hidden,
                embed=cfg.embed,
                attention=cfg.attention,
                location=cfg.location,
                ctc=cfg.ctc,
                dropout=cfg.dropout,
            )
        )

    def frames(self, strokes: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return features(strokes, lengths, self.cfg.downsample, self.cfg.height)

    def losses(self, strokes: Tensor, lengths: Tensor, text: Tensor) -> dict[str, Tensor]:
        """Summed CE (and CTC) losses of a batch; see Seq2Seq.losses."""
        return self.net.losses(*self.frames(strokes, lengths), text)

    def loss(self, parts: dict[str, Tensor]) -> Tensor:
        """The joint training loss per character from `losses`."""
        ce = parts["ce"] / parts["n_ce"].clamp(min=1)
        if "ctc" not in parts:
            return ce
        ctc = parts["ctc"] / parts["n_ctc"].clamp(min=1)
        w = self.cfg.ctc_weight
        return w * ctc + (1 - w) * ce

    @torch.no_grad()
    def decode(
        self,
        strokes: Tensor,
        lengths: Tensor,
        decoder: str | None = None,
        beam: int = 1,
        lm: LMScorer | None = None,
        lm_weight: float = 0.0,
        bonus: float = 0.0,
    ) -> list[list[int]]:
        """Codes read from a padded batch by `decoder` (default: the config's). CTC: best path;
        beam > 1: prefix beam search, with the character LM `lm` (log P(c | prefix), c = 0 the
        end) weighted by lm_weight and `bonus` nats per character. Attention: greedy or beam."""
        decoder = decoder or self.cfg.decoder
        x, n = self.frames(strokes, lengths)
        if decoder == "ctc":
            log_probs = self.net.ctc_log_probs(self.net.encode(x, n))  # (B, T/k, A + 1)
            if beam > 1:
                return ctc_beam(log_probs, n, CTCBeam(beam, lm_weight, bonus), lm)
            return ctc_greedy(log_probs, n)
        max_len = lengths // 3 + 2  # per line (IAM-OnDB: >= 9 points a character)
        if beam > 1:
            return self.net.beam(x, n, max_len, beam)
        return self.net.greedy(x, n, max_len)


def pad_lines(lines: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    """Normalised offset arrays (T_i, 3) -> padded (B,T,3) float32 and lengths (B,)."""
    T = max(1, max(len(s) for s in lines))
    x = np.zeros((len(lines), T, 3), np.float32)
    for i, s in enumerate(lines):
        x[i, : len(s)] = s
    return torch.from_numpy(x), torch.tensor([len(s) for s in lines], dtype=torch.long)
