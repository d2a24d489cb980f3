"""Handwriting networks (Graves 2013): `PredictionNet` (§4) and `SynthesisNet` (§5).

Pen points are (Δx, Δy, eos), offsets normalised to mean 0 / std 1 over the training set,
eos = 1 on a stroke's last point. Both nets read x_t and output ŷ_t = the 1 + 6M raw
mixture-density parameters of Pr(x_{t+1} | y_t) (eqs 15-26, `genseq.nn.mdn`).

Time convention (§2): the input sequence starts with the null vector, so a line x_1..x_T is
fed as (0, x_1, ..., x_{T-1}) and ŷ_t predicts x_t; the first prediction is made with no
information. `inputs_targets` makes that shift; every `forward` takes shifted inputs.

SynthesisNet (eqs 46-53): layer 1 reads [x_t, w_{t-1}] (eq 52), the soft window reads h^1_t
and gives w_t (eqs 46-51), layers 2..N read [x_t, w_t, h^{n-1}_t] (eq 53) and the head reads
every layer (eq 3). Only layer 1 and the window are stepped in Python for training; the upper
layers and the head then run once over the whole sequence (fused LSTM kernels).

Sampling: `PredictionNet.sample` (unconditional, optionally primed with a real line) and
`SynthesisNet.synthesize` (batched, stop rule of §5.3, bias of eqs 61-62, priming of §5.5;
the loop is in `genseq.hand.sampling`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.hand.sampling import SynthState
from genseq.hand.sampling import synthesize as _synthesize
from genseq.nn.clip import clip_grad
from genseq.nn.lstm import DeepLSTM, LSTMConfig, LSTMLayer, State
from genseq.nn.mdn import MixtureDensityHead, mdn_draw
from genseq.nn.synth_scan import synth_scan
from genseq.nn.util import eval_mode
from genseq.nn.window import SoftWindow, u_grid
from genseq.train.registry import Configurable, register_model


def inputs_targets(strokes: Tensor) -> tuple[Tensor, Tensor]:
    """§2: strokes (B,T,3) = x_1..x_T -> inputs (0, x_1, ..., x_{T-1}) and targets x_1..x_T.
    Shift whole lines before cutting them into TBPTT chunks, so that a chunk's first input is
    the previous chunk's last point."""
    null = strokes.new_zeros(strokes.shape[0], 1, strokes.shape[2])  # x_1 = null vector
    return torch.cat([null, strokes[:, :-1]], 1), strokes


# ---- §4: prediction network ----------------------------------------------------------------


@dataclass
class PredictionConfig:
    hidden_size: int = 400  # Table 3: 3 x 400 (≈ 3.4M weights) or 1 x 900
    num_layers: int = 3
    n_mixtures: int = 20  # M: 1 + 6M = 121 outputs
    peepholes: bool = False  # eqs 7-11 have them; off = fused kernels
    dropout: float = 0.0
    lstm_grad_clip: float = 0.0  # Graves: LSTM derivatives clipped to [-10, 10]
    output_grad_clip: float = 0.0  # Graves: output derivatives clipped to [-100, 100]


@register_model
class PredictionNet(Configurable, nn.Module):
    """§4: (Δx, Δy, eos) -> deep LSTM with skip connections -> mixture density head."""

    kind = "predict"
    needs = ("norm",)  # in config.json beside the model config
    config_cls = PredictionConfig
    inputs_targets = staticmethod(inputs_targets)

    def __init__(self, cfg: PredictionConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or PredictionConfig()
        self.lstm = DeepLSTM(
            LSTMConfig(
                input_size=3,
                hidden_size=cfg.hidden_size,
                num_layers=cfg.num_layers,
                peepholes=cfg.peepholes,
                dropout=cfg.dropout,
                grad_clip=cfg.lstm_grad_clip,
            )
        )
        self.head = MixtureDensityHead(self.lstm.output_size, cfg.n_mixtures)  # eq 3, eq 17

    @property
    def n_mixtures(self) -> int:
        return self.cfg.n_mixtures

    def forward(self, strokes_in: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """strokes_in (B,T,3), already shifted (`inputs_targets`) -> ŷ (B,T,1+6M), (h, c)."""
        h, state = self.lstm(strokes_in, state)  # eqs 1-2
        return clip_grad(self.head(h), self.cfg.output_grad_clip), state  # eq 3, §4.2 clip

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: x_t (B,3) -> ŷ_t (B,1+6M), new state."""
        h, state = self.lstm.step(x, state)
        return self.head(h), state

    @torch.inference_mode()
    def sample(
        self,
        steps: int,
        bias: float = 0.0,
        prime: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Unconditional sample of `steps` new points (steps, 3), normalised offsets.

        prime: a real line (P,3); the net reads (0, x_1, ..., x_P) and then continues from
        x_P; the returned points are only the new ones. bias: eqs 61-62 (0 = unbiased)."""
        p = next(self.parameters())
        x = torch.zeros(1, 3, device=p.device, dtype=p.dtype)  # x_1 = null vector
        state = None
        with eval_mode(self):
            if prime is not None and len(prime) > 0:
                prime = prime.reshape(1, -1, 3).to(device=p.device, dtype=p.dtype)
                _, state = self.lstm(inputs_targets(prime)[0], None)  # reads 0, x_1..x_{P-1}
                x = prime[:, -1]
            out = []
            for _ in range(steps):
                y, state = self.step(x, state)
                x = mdn_draw(y, self.cfg.n_mixtures, bias, generator)  # eqs 61-62
                out.append(x)
        return torch.cat(out).cpu() if out else torch.zeros(0, 3)


# ---- §5: synthesis network -----------------------------------------------------------------


@dataclass
class SynthesisConfig:
    alphabet_size: int  # A: one-hot width, index 0 = padding counted in (Alphabet.size)
    hidden_size: int = 400  # §5: 3 x 400, M = 20, K = 10 (≈ 3.7M weights)
    num_layers: int = 3
    n_mixtures: int = 20  # M
    n_window: int = 10  # K Gaussians of the soft window
    peepholes: bool = False
    dropout: float = 0.0
    lstm_grad_clip: float = 0.0  # Graves: 10
    output_grad_clip: float = 0.0  # Graves: 100
    # Initial bias of κ̂ (eq 51, initialisation only): exp(-3) ≈ 0.05 characters per point
    # at the start, near the data's ~1/25 (§4: > 25 points a character) instead of exp(0) = 1.
    kappa_bias: float = -3.0


@register_model
class SynthesisNet(Configurable, nn.Module):
    """§5: handwriting conditioned on a character string through a soft window (eqs 46-53)."""

    kind = "synth"
    needs = ("norm", "alphabet")  # in config.json beside the model config
    config_cls = SynthesisConfig
    inputs_targets = staticmethod(inputs_targets)

    def __init__(self, cfg: SynthesisConfig):
        super().__init__()
        self.cfg = cfg
        H, A, N, K = cfg.hidden_size, cfg.alphabet_size, cfg.num_layers, cfg.n_window
        if N < 1 or A < 2:
            raise ValueError(f"need num_layers >= 1 and alphabet_size >= 2, got {N}, {A}")
        self.lstm1 = LSTMLayer(3 + A, H, cfg.peepholes)  # eq 52: reads [x_t, w_{t-1}]
        self.window = SoftWindow(H, K)  # eqs 46-51
        with torch.no_grad():
            self.window.proj.bias[2 * K :].fill_(cfg.kappa_bias)
        self.upper = (  # eq 53: layers 2..N read [x_t, w_t] (skip input) and h^{n-1}_t (below)
            DeepLSTM(
                LSTMConfig(
                    input_size=3 + A,
                    hidden_size=H,
                    num_layers=N - 1,
                    peepholes=cfg.peepholes,
                    dropout=cfg.dropout,
                    below_size=H,
                    skip_input=True,
                    grad_clip=cfg.lstm_grad_clip,
                )
            )
            if N > 1
            else None
        )
        self.drop = nn.Dropout(cfg.dropout)  # on h^1, as DeepLSTM does on its layers' outputs
        self.head = MixtureDensityHead(N * H, cfg.n_mixtures)  # eq 3: every layer feeds ŷ

    @property
    def n_mixtures(self) -> int:
        return self.cfg.n_mixtures

    # ---- state and text ------------------------------------------------------------------
    def initial_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> SynthState:
        """All zeros: h1, c1 (B,H) layer 1; kappa (B,K); w (B,A) = w_0; h, c (N-1,B,H) layers
        2..N (absent when N = 1). The dict is the trainer's TBPTT carry as it is."""
        p = self.head.proj.weight
        device, dtype = device or p.device, dtype or p.dtype
        B, H, N = batch_size, self.cfg.hidden_size, self.cfg.num_layers
        st = {
            "h1": torch.zeros(B, H, device=device, dtype=dtype),
            "c1": torch.zeros(B, H, device=device, dtype=dtype),
            "kappa": torch.zeros(B, self.cfg.n_window, device=device, dtype=dtype),
            "w": torch.zeros(B, self.cfg.alphabet_size, device=device, dtype=dtype),
        }
        if self.upper is not None:
            st["h"] = torch.zeros(N - 1, B, H, device=device, dtype=dtype)
            st["c"] = torch.zeros(N - 1, B, H, device=device, dtype=dtype)
        return st

    def encode_text(
        self, text: Tensor, text_mask: Tensor | None = None, dtype: torch.dtype | None = None
    ) -> Tensor:
        """text (B,U) ids (0 = padding) -> c (B,U,A) one-hot with padded rows all zero, so
        eq 47's w_t only ever sums real characters (padding-aware without a per-step mask)."""
        if text_mask is None:
            text_mask = text != 0
        dtype = dtype or self.head.proj.weight.dtype
        one_hot = F.one_hot(text.long(), self.cfg.alphabet_size).to(dtype)
        return one_hot * text_mask.unsqueeze(-1).to(dtype)

    def _zeros_like(self, strokes_in: Tensor) -> SynthState:
        return self.initial_state(strokes_in.shape[0], strokes_in.device, strokes_in.dtype)

    def _upper_and_head(
        self, x: Tensor, w: Tensor, h1: Tensor, state: SynthState, new: SynthState
    ) -> Tensor:
        """Layers 2..N and the head over the whole sequence, time-major: x, w (T,B,·),
        h1 (T,B,H) -> ŷ (T,B,1+6M)."""
        h1 = self.drop(h1)
        if self.upper is None:
            return self.head(h1)
        xw = torch.cat([x, w], -1)
        out, (h, c) = self.upper(xw, (state["h"], state["c"]), below=h1, batch_first=False)  # eq 53
        new["h"], new["c"] = h, c
        return self.head(torch.cat([h1, out], -1))  # eq 3

    # ---- training: fast path -------------------------------------------------------------
    def forward(
        self,
        strokes_in: Tensor,
        text: Tensor,
        text_mask: Tensor | None = None,
        state: SynthState | None = None,
        return_phi: bool = False,
    ) -> tuple[Tensor, SynthState] | tuple[Tensor, SynthState, Tensor]:
        """strokes_in (B,T,3) shifted inputs, text (B,U) ids, text_mask (B,U) bool (default
        text != 0) -> ŷ (B,T,1+6M), final state [, φ (B,T,U+1) on u = 1..U+1].

        Only layer 1 and the window run step by step, in `genseq.nn.synth_scan.synth_scan` (in-place
        forward, hand-written backward): each step is one GEMM of [x_t, w_{t-1}, h^1_{t-1}]
        with [W_ih, W_hh] and the window; layers 2..N and the head then run once over the
        whole sequence, time-major."""
        B, T, _ = strokes_in.shape
        st = state if state is not None else self._zeros_like(strokes_in)
        chars = self.encode_text(text, text_mask, strokes_in.dtype)
        u = u_grid(chars.shape[1], strokes_in.device, strokes_in.dtype)
        if T == 0:
            y = strokes_in.new_zeros(B, 0, 1 + 6 * self.cfg.n_mixtures)
            same: SynthState = dict(st)
            return (y, same, strokes_in.new_zeros(B, 0, u.shape[0])) if return_phi else (y, same)
        l1, xt = self.lstm1, strokes_in.transpose(0, 1)  # time-major inside: no copies
        hs, ws, phi, c, kappa = synth_scan(  # layer 1 + window, eqs 46-52 (genseq.nn.synth_scan)
            xt, l1.weight_ih, l1.weight_hh, l1.bias_ih, l1.bias_hh, l1.peep,
            self.window.proj.weight, self.window.proj.bias, chars, u, st["h1"], st["c1"],
            st["kappa"], st["w"], self.cfg.lstm_grad_clip,
        )  # fmt: skip
        new: SynthState = {"h1": hs[-1], "c1": c, "kappa": kappa, "w": ws[-1]}
        y = self._upper_and_head(xt, ws, hs, st, new).transpose(0, 1)
        y = clip_grad(y, self.cfg.output_grad_clip)  # §4.2: dL/dŷ clipped
        return (y, new, phi.transpose(0, 1)) if return_phi else (y, new)

    # ---- one step: sampling and the reference path ---------------------------------------
    def step(
        self, x: Tensor, state: SynthState, chars: Tensor, u: Tensor | None = None
    ) -> tuple[Tensor, SynthState, Tensor]:
        """One time step of every layer: x_t (B,3), chars = encode_text(...) (B,U,A), u =
        u_grid(U) -> ŷ_t (B,1+6M), new state, φ(t, ·) (B,U+1)."""
        l1 = self.lstm1
        gx = F.linear(torch.cat([x, state["w"]], -1), l1.weight_ih, l1.bias_ih)  # eq 52
        h1, c1 = l1.cell(gx, state["h1"], state["c1"], self.cfg.lstm_grad_clip)
        w, kappa, phi = self.window(h1, state["kappa"], chars, None, u)  # eqs 46-51
        new: SynthState = {"h1": h1, "c1": c1, "kappa": kappa, "w": w}
        f = self.drop(h1)
        if self.upper is not None:
            out, (h, c) = self.upper.step(torch.cat([x, w], -1), (state["h"], state["c"]), below=f)
            new["h"], new["c"] = h, c  # eq 53
            f = torch.cat([f, out], -1)
        return self.head(f), new, phi  # eq 3

    def forward_stepped(
        self,
        strokes_in: Tensor,
        text: Tensor,
        text_mask: Tensor | None = None,
        state: SynthState | None = None,
        return_phi: bool = False,
    ) -> tuple[Tensor, SynthState] | tuple[Tensor, SynthState, Tensor]:
        """Reference for `forward`: every layer stepped one time step at a time (`step`, which
        uses DeepLSTM.step: no LSTM derivative clip in layers 2..N). Same signature/results."""
        st = state if state is not None else self._zeros_like(strokes_in)
        chars = self.encode_text(text, text_mask, strokes_in.dtype)
        u = u_grid(chars.shape[1], strokes_in.device, strokes_in.dtype)
        ys, phis = [], []
        for x_t in strokes_in.unbind(1):
            y, st, phi = self.step(x_t, st, chars, u)
            ys.append(y)
            phis.append(phi)
        y = clip_grad(torch.stack(ys, 1), self.cfg.output_grad_clip)
        return (y, st, torch.stack(phis, 1)) if return_phi else (y, st)

    # ---- sampling --------------------------------------------------------------------------
    @torch.inference_mode()
    def prime(
        self, strokes: Tensor, text: Tensor, text_mask: Tensor | None = None
    ) -> tuple[SynthState, Tensor]:
        """§5.5: read a real line (B,P,3) (0, x_1..x_{P-1}) clamped with `text` (the prime
        text followed by the text to write) -> (state, x_P (B,3), the next input)."""
        with eval_mode(self):
            _, st = self(inputs_targets(strokes)[0], text, text_mask)
        return st, strokes[:, -1]

    # Write text (batched; stop rule §5.3, bias eqs 61-62, priming §5.5): a method whose loop
    # lives in genseq.hand.sampling.
    synthesize = _synthesize
