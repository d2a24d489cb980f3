"""A generic attention encoder-decoder (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et
al. 2015), with an optional CTC head on the encoder (Graves et al. 2006).

Token ids: 0 is reserved and means, by place, padding (in batches), the start symbol (the
decoder's first input), the end symbol (the decoder's last target) and the CTC blank. Real
tokens are 1 .. vocab_size - 1 (genseq alphabets are already coded that way).

Encoder: a deep bidirectional LSTM. Each layer is a pair of one-layer `DeepLSTM`s, one reading
the sequence forward, one reading each sequence backward from its own last real step
(`reverse_padded`, so padding never enters a real step's state); layer n reads both directions
of layer n-1:  h^n_t = [→h^n_t ; ←h^n_t].
Decoder (Luong's input feeding, Bahdanau's additive score, Chorowski's location term):
    s_u        = LSTM(s_{u-1}, [E y_{u-1} ; c_{u-1}])
    e_{u,t}    = v^T tanh(W_h h_t + W_s s_u + W_f (F * α_{u-1})_t)     (masked: t < T_b)
    α_u        = softmax_t e_{u,t};   c_u = Σ_t α_{u,t} h_t
    Pr(y_u|·)  = softmax(W_o tanh(W_c [s_u ; c_u] + b_c) + b_o)
Training: teacher forcing (y_{u-1} is the true previous token) and cross-entropy over the
real targets and the end symbol; CTC (optional) on the encoder's per-step log-softmax.
Decoding: greedy, or beam search (length-normalised log-probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.nn.lstm import DeepLSTM, LSTMConfig, State

DecState = tuple[State, Tensor, Tensor]  # (LSTM (h, c), context c_{u-1}, alignment α_{u-1})


@dataclass
class Seq2SeqConfig:
    vocab_size: int  # output tokens, id 0 included (end / blank)
    input_size: int = 0  # features per source step (continuous input); 0 with src_vocab
    src_vocab: int = 0  # > 0: the source is token ids, embedded into `embed` dims
    enc_hidden: int = 128  # per direction
    enc_layers: int = 2
    dec_hidden: int = 256
    embed: int = 64
    attention: int = 128
    location: int = 8  # filters of the location term (0 = content-only attention)
    location_width: int = 15  # odd
    ctc: bool = False  # a CTC head on the encoder
    dropout: float = 0.0


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """x (B,T,·): each sequence's first lengths[b] steps reversed, padding left in place.
    Its own inverse."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).expand(B, T)
    L = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < L, L - 1 - t, t)
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))


class BiEncoder(nn.Module):
    """Deep bidirectional LSTM: (B,T,I) + lengths -> (B,T,2H), zero at padding."""

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float = 0.0):
        super().__init__()

        def one(size: int) -> DeepLSTM:
            return DeepLSTM(LSTMConfig(input_size=size, hidden_size=hidden, num_layers=1))

        sizes = [input_size] + [2 * hidden] * (layers - 1)
        self.fwd = nn.ModuleList(one(s) for s in sizes)
        self.bwd = nn.ModuleList(one(s) for s in sizes)
        self.drop = nn.Dropout(dropout)
        self.output_size = 2 * hidden

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        for f, b in zip(self.fwd, self.bwd, strict=True):
            hf, _ = f(x)
            hb, _ = b(reverse_padded(x, lengths))
            x = self.drop(torch.cat([hf, reverse_padded(hb, lengths)], -1))
        mask = torch.arange(x.shape[1], device=x.device) < lengths.to(x.device).unsqueeze(1)
        return x * mask.unsqueeze(-1)


class Attention(nn.Module):
    """Additive attention with an optional location term (see the module docstring)."""

    def __init__(self, enc: int, dec: int, dim: int, location: int, width: int):
        super().__init__()
        self.W_h = nn.Linear(enc, dim)
        self.W_s = nn.Linear(dec, dim, bias=False)
        self.v = nn.Linear(dim, 1, bias=False)
        self.conv = (
            nn.Conv1d(1, location, width, padding=width // 2, bias=False) if location else None
        )
        self.W_f = nn.Linear(location, dim, bias=False) if location else None

    def keys(self, enc: Tensor) -> Tensor:
        return self.W_h(enc)  # W_h h_t, once per source

    def forward(
        self, keys: Tensor, enc: Tensor, mask: Tensor, s: Tensor, prev: Tensor
    ) -> tuple[Tensor, Tensor]:
        """keys (B,T,A), enc (B,T,E), mask (B,T), s (B,D), prev α (B,T) -> context, α."""
        z = keys + self.W_s(s).unsqueeze(1)
        if self.conv is not None:
            z = z + self.W_f(self.conv(prev.unsqueeze(1)).transpose(1, 2))
        e = self.v(torch.tanh(z)).squeeze(-1).masked_fill(~mask, float("-inf"))
        a = torch.softmax(e, -1)
        return torch.bmm(a.unsqueeze(1), enc).squeeze(1), a


@dataclass
class Encoded:
    enc: Tensor  # (B,T,E)
    keys: Tensor  # (B,T,A)
    mask: Tensor  # (B,T) bool
    lengths: Tensor  # (B,)

    def rows(self, b: int) -> Encoded:
        """Sequence b alone (a batch of one)."""
        return Encoded(
            self.enc[b : b + 1], self.keys[b : b + 1], self.mask[b : b + 1], self.lengths[b : b + 1]
        )

    def repeat(self, k: int) -> Encoded:
        """A batch of one seen k times (beam hypotheses), without copies."""
        return Encoded(
            *(t.expand(k, *t.shape[1:]) for t in (self.enc, self.keys, self.mask, self.lengths))
        )


class Seq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        if (cfg.input_size > 0) == (cfg.src_vocab > 0):
            raise ValueError("give exactly one of input_size (features) and src_vocab (tokens)")
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.embed) if cfg.src_vocab else None
        size = cfg.embed if cfg.src_vocab else cfg.input_size
        self.encoder = BiEncoder(size, cfg.enc_hidden, cfg.enc_layers, cfg.dropout)
        E = self.encoder.output_size
        self.ctc_head = nn.Linear(E, cfg.vocab_size) if cfg.ctc else None
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed)
        self.decoder = DeepLSTM(
            LSTMConfig(input_size=cfg.embed + E, hidden_size=cfg.dec_hidden, num_layers=1)
        )
        self.attention = Attention(
            E, cfg.dec_hidden, cfg.attention, cfg.location, cfg.location_width
        )
        self.W_c = nn.Linear(cfg.dec_hidden + E, cfg.dec_hidden)
        self.out = nn.Linear(cfg.dec_hidden, cfg.vocab_size)

    # ---- encoder -------------------------------------------------------------------------------
    def encode(self, src: Tensor, lengths: Tensor) -> Encoded:
        """src (B,T,I) features or (B,T) token ids, lengths (B,) -> Encoded."""
        x = self.src_embed(src) if self.src_embed is not None else src
        enc = self.encoder(x, lengths)
        mask = torch.arange(enc.shape[1], device=enc.device) < lengths.to(enc.device).unsqueeze(1)
        return Encoded(enc, self.attention.keys(enc), mask, lengths)

    def ctc_log_probs(self, e: Encoded) -> Tensor:
        if self.ctc_head is None:
            raise ValueError("this model has no CTC head")
        return torch.log_softmax(self.ctc_head(e.enc), -1)  # (B,T,V), blank = 0

    # ---- decoder -------------------------------------------------------------------------------
    def start(self, e: Encoded) -> DecState:
        B, T, E = e.enc.shape
        first = e.mask.float() / e.lengths.to(e.enc.device).clamp(min=1).unsqueeze(1).float()
        ctx = torch.zeros(B, E, device=e.enc.device)
        return self.decoder.initial_state(B, e.enc.device), ctx, first

    def step(self, e: Encoded, y_prev: Tensor, st: DecState) -> tuple[Tensor, DecState]:
        """One decoder step: previous tokens (B,) -> logits (B,V), new state."""
        lstm_state, ctx, align = st
        s, lstm_state = self.decoder.step(torch.cat([self.embed(y_prev), ctx], -1), lstm_state)
        ctx, align = self.attention(e.keys, e.enc, e.mask, s, align)
        logits = self.out(torch.tanh(self.W_c(torch.cat([s, ctx], -1))))
        return logits, (lstm_state, ctx, align)

    def forward(self, src: Tensor, lengths: Tensor, tgt: Tensor) -> tuple[Tensor, Encoded]:
        """Teacher forcing: tgt (B,U) ids (0 = pad) -> logits (B,U+1,V) predicting
        tgt_1..tgt_U and then the end symbol 0."""
        e = self.encode(src, lengths)
        y_in = torch.cat([tgt.new_zeros(tgt.shape[0], 1), tgt], 1)  # start symbol 0
        st = self.start(e)
        outs = []
        for y in y_in.unbind(1):
            logits, st = self.step(e, y, st)
            outs.append(logits)
        return torch.stack(outs, 1), e

    # ---- losses --------------------------------------------------------------------------------
    @staticmethod
    def targets_with_end(tgt: Tensor) -> tuple[Tensor, Tensor]:
        """tgt (B,U) -> (B,U+1) targets (the end symbol 0 after each sequence) and the mask of
        the scored positions (the real tokens and that end symbol)."""
        n = (tgt != 0).sum(1, keepdim=True)
        out = torch.cat([tgt, tgt.new_zeros(tgt.shape[0], 1)], 1)
        mask = torch.arange(out.shape[1], device=tgt.device) <= n
        return out, mask

    def losses(self, src: Tensor, lengths: Tensor, tgt: Tensor) -> dict[str, Tensor]:
        """Summed cross-entropy of the decoder ("ce", over n_ce scored tokens) and, with a CTC
        head, summed CTC loss ("ctc", over n_ctc target tokens)."""
        logits, e = self(src, lengths, tgt)
        y, mask = self.targets_with_end(tgt)
        ce = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")
        out = {"ce": (ce * mask).sum(), "n_ce": mask.sum()}
        if self.ctc_head is not None:
            lp = self.ctc_log_probs(e).transpose(0, 1)  # (T,B,V)
            tl = (tgt != 0).sum(1)
            out["ctc"] = F.ctc_loss(
                lp, tgt, lengths, tl, blank=0, reduction="sum", zero_infinity=True
            )
            out["n_ctc"] = tl.sum()
        return out

    # ---- decoding ------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy(self, src: Tensor, lengths: Tensor, max_len: int | Tensor) -> list[list[int]]:
        """The most probable token at each step until the end symbol, or max_len tokens (one
        cap for all, or (B,) caps: then a sequence reads the same in any batch)."""
        e = self.encode(src, lengths)
        B = src.shape[0]
        cap = torch.as_tensor(max_len).expand(B)
        y = torch.zeros(B, dtype=torch.long, device=e.enc.device)
        st = self.start(e)
        out: list[list[int]] = [[] for _ in range(B)]
        done = cap <= 0
        for u in range(int(cap.max())):
            logits, st = self.step(e, y, st)
            y = logits.argmax(-1)
            done |= (y == 0) | (cap <= u)
            for b in (~done).nonzero().flatten().tolist():
                out[b].append(int(y[b]))
            if bool(done.all()):
                break
        return out

    @torch.no_grad()
    def beam(
        self, src: Tensor, lengths: Tensor, max_len: int | Tensor, width: int = 4
    ) -> list[list[int]]:
        """Beam search per sequence; hypotheses ranked by log-probability / length."""
        e_all = self.encode(src, lengths)
        cap = torch.as_tensor(max_len).expand(src.shape[0]).tolist()
        return [self._beam_one(e_all.rows(b), cap[b], width) for b in range(src.shape[0])]

    def _beam_one(self, e: Encoded, max_len: int, width: int) -> list[int]:
        (h, c), ctx, align = self.start(e)
        hyps: list[list[int]] = [[]]
        scores = torch.zeros(1)
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len):
            k = len(hyps)
            y = torch.tensor([hy[-1] if hy else 0 for hy in hyps])
            logits, ((h, c), ctx, align) = self.step(e.repeat(k), y, ((h, c), ctx, align))
            total = (scores.unsqueeze(1) + torch.log_softmax(logits, -1)).flatten()
            top = total.topk(min(width, total.numel()))
            keep_hyp, keep_tok, keep_sc = [], [], []
            for sc, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                i, tok = divmod(idx, logits.shape[1])
                if tok == 0:
                    finished.append((sc / (len(hyps[i]) + 1), hyps[i]))
                else:
                    keep_hyp.append(i)
                    keep_tok.append(tok)
                    keep_sc.append(sc)
            if not keep_hyp or len(finished) >= width:
                break
            sel = torch.tensor(keep_hyp)
            hyps = [hyps[i] + [t] for i, t in zip(keep_hyp, keep_tok, strict=True)]
            scores = torch.tensor(keep_sc)
            h, c, ctx, align = h[:, sel], c[:, sel], ctx[sel], align[sel]
        if not finished:
            return hyps[int(scores.argmax())]
        return max(finished, key=lambda f: f[0])[1]


def ctc_greedy(log_probs: Tensor, lengths: Tensor) -> list[list[int]]:
    """Best-path CTC decoding: argmax per step, repeats merged, blanks (0) dropped."""
    best = log_probs.argmax(-1).tolist()
    out = []
    for row, n in zip(best, lengths.tolist(), strict=True):
        seq, prev = [], 0
        for k in row[:n]:
            if k != prev and k != 0:
                seq.append(k)
            prev = k
        out.append(seq)
    return out
