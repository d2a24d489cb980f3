"""The paper's handwriting figures (Graves 2013): Fig 10 (§4), Figs 13 and 14 (§5).

- Fig 10 / Fig 14, `density_figure`: a network reads a line (teacher forcing, §2: ŷ_t predicts
  x_t from x_1..x_{t-1}); at every step its predicted density of the next pen position,
  Σ_j π_j N(· | μ_j, σ_j, ρ_j) (eqs 23-25) moved to absolute pen coordinates, is summed over
  the line and drawn as a heat map with the line on top; below, the mixture weights π_t
  (eq 19) as an M x T image. A prediction net (§4) reads a real line or its own sample (Fig
  10); a synthesis net (§5) reads a line with its text, e.g. its own sample (Fig 14).
- Fig 13, `phi_figure`: the window weights φ(t, u) (eq 46) as an image, characters u down the
  side (with u = U+1, "end", the column of the §5.3 stop rule), pen points t across, and the
  line above.

Everything draws on `matplotlib.figure.Figure` (Agg, no pyplot state); `save_figure` writes
PNG, SVG or PDF by the suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from genseq.errors import GenseqError
from genseq.hand.model import inputs_targets
from genseq.hand.render import FIGURE_SUFFIXES, plot_strokes
from genseq.hand.sample import HandModel, encode_lines
from genseq.hand.sampling import Synthesis
from genseq.hand.strokes import NormStats, to_absolute
from genseq.nn.mdn import MDNParams, split_params
from genseq.nn.util import eval_mode

DENSITY_PX = 1200  # heat-map pixels along the line's longer side
PI_FLOOR = 1e-4  # components with a smaller weight are left out of the heat map
REL_PEAK_FLOOR = 1e-3  # and those whose peak density is below 1e-3 of the line's highest
N_SIGMA = 4.0  # each component is evaluated within μ ± 4σ


@dataclass
class LineReading:
    """What a network predicted while reading one line (teacher forcing)."""

    points: np.ndarray  # (T, 3) the normalised offsets x_1..x_T it read
    params: MDNParams  # (T, ...) step t: Pr(x_t | x_<t [, text]) (eqs 18-22), on the CPU
    phi: np.ndarray | None  # (T, U+1) φ(t, u), u = 1..U+1 (synthesis only)
    text: str | None  # the text it read (synthesis only), as the alphabet decodes it


@torch.inference_mode()
def read_line(
    model: HandModel,
    points: np.ndarray,
    text: str | list[int] | torch.Tensor | None = None,
    bias: float = 0.0,
) -> LineReading:
    """Run the model over normalised offsets (T, 3) (inputs 0, x_1..x_{T-1}, §2) -> its
    predictions for x_1..x_T. A synthesis model needs the line's text (a string or ids).
    bias: eqs 61-62, to show the distributions a biased sample was drawn from."""
    net = model.net
    p = next(net.parameters())
    x = torch.as_tensor(np.asarray(points, np.float32)).reshape(1, -1, 3)
    if x.shape[1] == 0:
        raise GenseqError("the line has no points")
    with eval_mode(net):
        inp = inputs_targets(x.to(p.device, p.dtype))[0]
        phi, decoded = None, None
        if model.alphabet is None:
            y, _ = net(inp)
        else:
            if text is None:
                raise GenseqError("a synthesis network reads a line with its text: give the text")
            if isinstance(text, str):
                ids = encode_lines(model.alphabet, [text])[0][0]
            else:
                ids = torch.as_tensor(text, dtype=torch.long).reshape(-1)
            ids = ids[ids != 0].reshape(1, -1).to(p.device)
            if ids.shape[1] == 0:
                raise GenseqError("the line's text is empty")
            y, _, ph = net(inp, ids, return_phi=True)
            phi = ph[0].float().cpu().numpy()
            decoded = model.alphabet.decode(ids[0].tolist())
    params = split_params(y[0].float().cpu(), net.n_mixtures, bias)
    return LineReading(x[0].numpy(), params, phi, decoded)


# ---- the density heat map (Figs 10, 14) ----------------------------------------------------


def density_map(
    reading: LineReading, stats: NormStats, px: int = DENSITY_PX
) -> tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """Σ_t of the predicted density of pen position t (per board unit², eqs 23-25) on a grid
    over the line -> (image (H, W), extent (x0, x1, y0, y1), absolute points (T, 3)), y up.

    Step t's mixture lives in normalised offset space; pen position = P_{t-1} + mean + std·Δ,
    so in board units component j is a bivariate normal with mean P_{t-1} + mean + std μ_j and
    deviations std σ_j (the Jacobian 1 / (std_x std_y) comes with them). Each component adds
    π_j N_j on the cells (centres) within μ_j ± 4σ_j; components with π_j < 1e-4, or whose
    peak π_j N_j(μ_j) is below 1e-3 of the line's typical highest peak (the 90th percentile
    over steps; such components are invisible on the colour scale: broad pen-up guesses) are
    left out."""
    pts = reading.points
    absolute = to_absolute(stats.denormalise(pts))
    base = np.concatenate([np.zeros((1, 2)), absolute[:-1, :2]])  # P_{t-1}, P_0 = the origin
    mean, std = np.asarray(stats.mean), np.asarray(stats.std)
    lo, hi = absolute[:, :2].min(0), absolute[:, :2].max(0)
    margin = max(0.15 * float((hi - lo).min()), 3.0 * float(std.max()))
    lo, hi = lo - margin, hi + margin
    res = float((hi - lo).max()) / px  # board units per cell
    W, H = (np.ceil((hi - lo) / res).astype(int) + 1).tolist()
    prm = reading.params
    pi = prm.log_pi.exp().double().numpy()  # (T, M) eq 19
    sig = np.exp(prm.log_sigma.clamp(-60, 60).double().numpy()) * std  # (T, M, 2) board units
    one_m_rho2 = np.exp(prm.log_one_minus_rho2().double().numpy())  # (T, M) 1 - ρ², floored
    rho = prm.rho.double().numpy()
    peak = pi / (2 * np.pi * sig.prod(-1) * np.sqrt(one_m_rho2))  # π_j N_j(μ_j), per unit²
    ref = float(np.percentile(peak.max(1), 90))  # robust to a few extremely sharp steps
    keep = (pi >= PI_FLOOR) & (peak >= REL_PEAK_FLOOR * ref)
    ts, js = np.nonzero(keep)  # the (step, component) pairs drawn
    s_k = sig[ts, js]
    centre = prm.mu.double().numpy()[ts, js] * std + mean + base[ts]  # eq 20, board units
    i0 = np.clip(np.floor((centre - N_SIGMA * s_k - lo) / res), 0, [W, H]).astype(int)
    i1 = np.clip(np.ceil((centre + N_SIGMA * s_k - lo) / res) + 1, 0, [W, H]).astype(int)
    img = np.zeros((H, W))
    for k, (t, j) in enumerate(zip(ts, js, strict=True)):
        (xa, ya), (xb, yb) = i0[k], i1[k]
        if xb <= xa or yb <= ya:
            continue
        z1 = (lo[0] + (np.arange(xa, xb) + 0.5) * res - centre[k, 0]) / s_k[k, 0]  # cell centres
        z2 = (lo[1] + (np.arange(ya, yb) + 0.5) * res - centre[k, 1]) / s_k[k, 1]
        r = rho[t, j]
        zq = z1[None] ** 2 + z2[:, None] ** 2 - 2 * r * z1[None] * z2[:, None]  # eq 25: Z
        img[ya:yb, xa:xb] += peak[t, j] * np.exp(-0.5 * zq / one_m_rho2[t, j])  # eq 24 x π_j
    extent = (float(lo[0]), float(lo[0] + W * res), float(lo[1]), float(lo[1] + H * res))
    return img, extent, absolute


def density_figure(
    model: HandModel,
    points: np.ndarray,
    text: str | list[int] | torch.Tensor | None = None,
    bias: float = 0.0,
    title: str | None = None,
    px: int = DENSITY_PX,
) -> Figure:
    """Fig 10 (prediction net) / Fig 14 (synthesis net, which reads `text` too): the summed
    predicted densities over a line, the line on top, and the mixture weights π_t below."""
    r = read_line(model, points, text, bias)
    img, extent, absolute = density_map(r, model.stats, px)
    aspect = (extent[1] - extent[0]) / max(extent[3] - extent[2], 1e-9)
    width = 12.0
    top_h = float(np.clip(width / aspect, 1.0, 8.0))
    fig = Figure(figsize=(width, top_h + 2.6), dpi=100)
    gs = fig.add_gridspec(2, 1, height_ratios=[top_h, 2.0])
    ax = fig.add_subplot(gs[0])
    vmax = float(np.percentile(img[img > 0], 99.5)) if (img > 0).any() else 1.0
    ax.imshow(
        img,
        extent=extent,
        origin="lower",
        cmap="hot_r",
        norm=PowerNorm(0.4, vmin=0.0, vmax=vmax),
        interpolation="bilinear",
    )
    plot_strokes(ax, absolute, absolute=True, color="#1f5fbf", linewidth=0.6)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_title(title or _default_title(model, r), fontsize=10, loc="left")
    pi_figure_axes(fig.add_subplot(gs[1]), r)
    fig.tight_layout()
    return fig


def pi_figure_axes(ax, r: LineReading) -> None:
    """Mixture weights π_t (M x T image) over the line; ticks mark the ends of strokes."""
    pi = r.params.log_pi.exp().numpy().T  # (M, T)
    T = pi.shape[1]
    ax.imshow(
        pi,
        aspect="auto",
        origin="lower",
        cmap="Greys",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(0.5, T + 0.5, 0.5, pi.shape[0] + 0.5),
    )
    ends = np.flatnonzero(r.points[:, 2] > 0.5) + 1
    ax.plot(
        ends,
        np.full(len(ends), pi.shape[0] + 0.5),
        "v",
        color="#c0392b",
        markersize=3,
        clip_on=False,
    )
    ax.set_xlabel("time step t (pen point); ▼ end of stroke")
    ax.set_ylabel("component j")
    ax.set_title("mixture weights π_t (eq 19)", fontsize=9, loc="left")


def _default_title(model: HandModel, r: LineReading) -> str:
    kind = "prediction" if model.alphabet is None else "synthesis"
    fig = "Fig 10" if model.alphabet is None else "Fig 14"
    text = f": {r.text!r}" if r.text else ""
    return f"{fig}-style predicted densities summed over {len(r.points)} points ({kind} net){text}"


# ---- the window (Fig 13) -------------------------------------------------------------------


def _label(c: str) -> str:
    return "␣" if c == " " else c


def phi_figure(
    phi: np.ndarray,
    text: str,
    points: np.ndarray | None = None,
    stats: NormStats | None = None,
    title: str | None = None,
) -> Figure:
    """Fig 13: φ(t, u) (T, U+1) as an image, u = the characters of `text` then "end" (U+1),
    t across; the line (normalised offsets, with `stats`) drawn above it when given. Grey
    scale from 0 to the 99.5th percentile of φ (so that a few large values do not wash out
    the rest)."""
    phi = np.asarray(phi, np.float64)
    T, U1 = phi.shape
    if U1 != len(text) + 1:
        raise ValueError(f"phi has {U1} columns for a text of {len(text)} characters (+1)")
    if T == 0:
        raise GenseqError("the line has no points: no window weights to draw")
    rows = 2 if points is not None and len(points) else 1
    char_h = 0.16 * U1
    fig = Figure(figsize=(12.0, 2.2 * (rows - 1) + max(2.5, char_h + 1.0)), dpi=100)
    gs = fig.add_gridspec(rows, 1, height_ratios=[2.0, max(1.5, char_h)][2 - rows :])
    if rows == 2:
        ax0 = fig.add_subplot(gs[0])
        plot_strokes(ax0, points, stats=stats)
        ax0.set_title(
            title or f"Fig 13-style window weights φ(t, u): {text!r}", fontsize=10, loc="left"
        )
    ax = fig.add_subplot(gs[rows - 1])
    ax.imshow(
        phi.T,
        aspect="auto",
        origin="upper",
        cmap="Greys",
        interpolation="nearest",
        extent=(0.5, T + 0.5, U1 + 0.5, 0.5),
        vmin=0.0,
        vmax=max(float(np.percentile(phi, 99.5)), 1e-9),  # a few early peaks saturate
    )
    ax.set_yticks(np.arange(1, U1 + 1))
    ax.set_yticklabels([_label(c) for c in text] + ["end"], fontsize=max(4.0, min(9.0, 300 / U1)))
    ax.set_xlabel("time step t (pen point)")
    ax.set_ylabel("character u")
    if rows == 1:
        ax.set_title(title or f"window weights φ(t, u) (eq 46): {text!r}", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def line_phi_figure(
    model: HandModel, points: np.ndarray, text: str, title: str | None = None
) -> Figure:
    """Fig 13 for a line read through a synthesis net with its text (e.g. a real line)."""
    if model.alphabet is None:
        raise GenseqError("φ needs a synthesis model (hand train --task synth)")
    r = read_line(model, points, text)
    assert r.phi is not None and r.text is not None
    return phi_figure(r.phi, r.text, points, model.stats, title)


# ---- synthesized lines and files -----------------------------------------------------------


def synthesis_figure(
    model: HandModel,
    syn: Synthesis,
    i: int = 0,
    kind: str = "phi",
    prime: np.ndarray | None = None,
    bias: float = 0.0,
) -> Figure:
    """Fig 13 (kind "phi") or Fig 14 ("density") for item i of a `Synthesis`.

    With a prime (§5.5: its normalised points; syn.text then spans prime text + text) both
    figures show the prime followed by the new line, read again through the network with the
    whole text: teacher forcing on the same points gives the same φ and densities that the
    sampler saw (`SynthesisNet.synthesize` reads the prime exactly so)."""
    assert model.alphabet is not None
    new = syn.strokes[i].numpy()
    ids = syn.text[i]
    text = model.alphabet.decode(ids.tolist())
    what = "a synthesized line" if prime is None else "a style line (§5.5) + the line it primed"
    if not syn.stopped[i]:
        what += " (cut at the step cap before the stop rule, §5.3)"
    pts = new if prime is None else np.concatenate([np.asarray(prime, np.float32), new])
    if kind not in ("phi", "density"):
        raise ValueError(f"unknown figure {kind!r}")
    if kind == "phi":
        if prime is None:
            phi = syn.phi[i].numpy()
        elif len(pts):
            phi = read_line(model, pts, ids).phi
        else:
            phi = np.zeros((0, len(text) + 1))
        assert phi is not None
        return phi_figure(
            phi, text, pts, model.stats, f"Fig 13-style window weights φ(t, u) of {what}"
        )
    if len(pts) == 0:
        raise GenseqError("the synthesized line has no points to draw a figure of")
    return density_figure(
        model,
        pts,
        ids,
        bias,
        f"Fig 14-style predicted densities of {what} ({len(pts)} points, bias {bias:g}): {text!r}",
    )


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (by the suffix)."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise GenseqError(f"cannot save a figure as {path.name}: use {', '.join(FIGURE_SUFFIXES)}")
    if not path.parent.is_dir():
        raise GenseqError(f"output folder not found: {path.parent}")
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path
