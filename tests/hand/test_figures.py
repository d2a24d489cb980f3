"""The paper's handwriting figures: Fig 10 / 14 (densities, mixture weights), Fig 13 (φ)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.figures import (
    LineReading,
    density_figure,
    density_map,
    line_phi_figure,
    phi_figure,
    read_line,
    save_figure,
    synthesis_figure,
)
from genseq.hand.model import PredictionConfig, PredictionNet, SynthesisConfig, SynthesisNet
from genseq.hand.sample import HandModel, generator, synthesize_text
from genseq.hand.strokes import NormStats
from genseq.hand.styles import Style
from genseq.nn.mdn import offset_log_prob, split_params

STATS = NormStats((2.0, -1.0), (10.0, 5.0))
ALPHABET = Alphabet.from_texts(["abc de"])


def _line(T: int = 30, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    p = np.concatenate([g.normal(size=(T, 2)), np.zeros((T, 1))], 1).astype(np.float32)
    p[[9, 19, T - 1], 2] = 1
    return p


def _predict() -> HandModel:
    torch.manual_seed(0)
    net = PredictionNet(PredictionConfig(hidden_size=8, num_layers=2, n_mixtures=3))
    return HandModel(net.eval(), STATS, None, {"kind": "predict"})


def _synth() -> HandModel:
    torch.manual_seed(0)
    cfg = SynthesisConfig(
        alphabet_size=ALPHABET.size,
        hidden_size=8,
        num_layers=2,
        n_mixtures=3,
        n_window=2,
        kappa_bias=-1.0,
    )
    return HandModel(SynthesisNet(cfg).eval(), STATS, ALPHABET, {"kind": "synth"})


def test_density_map_integrates_to_one_per_step():
    """Two components per step, well inside the grid: Σ_cells density x cell area = T (the
    Jacobian of the normalisation included), and the highest cell is at P_{t-1} + mean + std μ
    of the heavier component (board units, y up)."""
    T, M = 4, 2
    # raw offsets (0, 0) (a line starts at the origin), then jumps of ~30 board units
    pts = np.array([[-0.2, 0.2, 0], [3, 3, 0], [3, -3, 0], [-3, -3, 1]], np.float32)
    y = torch.zeros(T, 1 + 6 * M)
    y[:, 1 : 1 + M] = torch.tensor([0.0, math.log(3.0)])  # π = (0.25, 0.75)
    y[:, 1 + M : 1 + 3 * M] = torch.tensor([-1.0, 1.0, 0.5, -0.5])  # μ_1, μ_2 (normalised)
    y[:, 1 + 3 * M : 1 + 5 * M] = math.log(0.3)  # σ = 0.3 (normalised): 3 and 1.5 board units
    y[:, 1 + 5 * M :] = torch.tensor([-0.3, 0.4])  # ρ̂
    r = LineReading(pts, split_params(y, M), None, None)
    img, (x0, x1, y0, y1), absolute = density_map(r, STATS, px=400)
    cell = ((x1 - x0) / img.shape[1]) * ((y1 - y0) / img.shape[0])
    assert img.sum() * cell == pytest.approx(T, rel=0.02)
    base = np.concatenate([np.zeros((1, 2)), absolute[:-1, :2]])
    expect = base + np.asarray(STATS.mean) + np.asarray(STATS.std) * [0.5, -0.5]
    iy, ix = np.unravel_index(img.argmax(), img.shape)
    peak = [x0 + (ix + 0.5) * (x1 - x0) / img.shape[1], y0 + (iy + 0.5) * (y1 - y0) / img.shape[0]]
    assert min(np.hypot(*(expect - peak).T)) < 1.0
    # the last step alone, at a few cells: exp(offset_log_prob) / (std_x std_y) (eqs 23-25)
    one = LineReading(pts[:1], split_params(y[:1], M), None, None)
    img, (x0, x1, y0, y1), _ = density_map(one, STATS, px=100)
    rx, ry = (x1 - x0) / img.shape[1], (y1 - y0) / img.shape[0]
    for iy, ix in [np.unravel_index(img.argmax(), img.shape), (img.shape[0] // 3, 7)]:
        xy = torch.tensor([x0 + (ix + 0.5) * rx, y0 + (iy + 0.5) * ry])  # base = the origin
        d = (xy - torch.tensor(STATS.mean)) / torch.tensor(STATS.std)
        want = offset_log_prob(split_params(y[0], M), d.float()).exp().item() / 50.0
        assert img[iy, ix] == pytest.approx(want, rel=1e-4, abs=1e-12)


def test_read_line_shapes_and_synthesize_agreement():
    m = _predict()
    r = read_line(m, _line())
    assert r.params.log_pi.shape == (30, 3) and r.phi is None and r.text is None
    s = _synth()
    syn = synthesize_text(s, ["abc"], rng=generator(0))
    pts = syn.strokes[0].numpy()
    assert len(pts) > 2
    r = read_line(s, pts, "abc")
    assert r.text == "abc" and r.phi.shape == (len(pts), 4)
    # reading the sample back (teacher forcing) gives the window the sampler saw
    np.testing.assert_allclose(r.phi, syn.phi[0].numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(GenseqError, match="text"):
        read_line(s, pts)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_figures_save(tmp_path, suffix):
    m, s = _predict(), _synth()
    f = save_figure(density_figure(m, _line(), px=150), tmp_path / f"d{suffix}")
    assert f.stat().st_size > 1000
    save_figure(density_figure(s, _line(), "ab de", px=150), tmp_path / f"d14{suffix}")
    save_figure(line_phi_figure(s, _line(), "ab de"), tmp_path / f"phi{suffix}")
    save_figure(phi_figure(np.random.rand(30, 4), "a c"), tmp_path / f"p{suffix}")
    if suffix == ".png":
        assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_synthesis_figures_with_and_without_prime(tmp_path):
    s = _synth()
    syn = synthesize_text(s, ["abc", "de"], rng=generator(1))
    for kind in ("phi", "density"):
        save_figure(synthesis_figure(s, syn, 1, kind), tmp_path / f"{kind}.png")
    prime = _line(20)
    syn = synthesize_text(s, ["de"], style=Style("cab", offsets=prime), rng=generator(1))
    assert s.alphabet.decode(syn.text[0].tolist()) == "cab de"  # a space between (§5.5)
    for kind in ("phi", "density"):
        save_figure(synthesis_figure(s, syn, 0, kind, prime), tmp_path / f"p{kind}.png")


def test_figure_errors(tmp_path):
    with pytest.raises(GenseqError, match="use .png"):
        save_figure(phi_figure(np.ones((3, 2)), "a"), tmp_path / "x.gif")
    with pytest.raises(GenseqError, match="folder"):
        save_figure(phi_figure(np.ones((3, 2)), "a"), tmp_path / "no" / "x.png")
    with pytest.raises(GenseqError, match="synthesis model"):
        line_phi_figure(_predict(), _line(), "ab")
    with pytest.raises(GenseqError, match="no points"):
        read_line(_predict(), np.zeros((0, 3)))


# ---- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def models(tiny_cache, tiny_predict, tiny_synth):
    return tiny_cache, tiny_predict, tiny_synth


def _png(path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


def test_cli_sample_figures(models, tmp_path):
    cache, pred, synth = models
    a, b, c, d = (tmp_path / f for f in ("a.png", "b.png", "c.png", "d.svg"))

    def sample(model, kind, out, more) -> int:
        return main(f"hand sample --model {model} --figure {kind} -o {out} {more}".split())

    assert sample(pred, "density", a, "--steps 40 --seed 0") == 0
    assert sample(pred, "density", b, f"--data {cache} --line a01-000u-01") == 0
    for kind, f in (("phi", c), ("density", d)):
        assert sample(synth, kind, f, f"--data {cache} --line a01-001-01") == 0
    assert _png(a) and _png(b) and _png(c) and d.read_text().lstrip().startswith("<?xml")


def test_cli_write_figures(models, tmp_path):
    _, _, synth = models
    for kind in ("phi", "density"):
        out, fig = tmp_path / f"w-{kind}.svg", tmp_path / f"f-{kind}.png"
        assert (
            main(
                [
                    "write",
                    "to be made at a meeting",
                    "--model",
                    str(synth),
                    "-o",
                    str(out),
                    "--width",
                    "10",
                    "--seed",
                    "0",
                    "--figure",
                    kind,
                    "--figure-out",
                    str(fig),
                ]
            )
            == 0
        )
        assert out.is_file() and _png(fig)


@pytest.mark.parametrize(
    "argv,match",
    [
        (["write", "hi", "--figure", "phi"], "go together"),
        (["write", "hi", "--figure-out", "{tmp}/f.png"], "go together"),
        (["write", "hi", "--figure", "phi", "--figure-out", "{tmp}/f.gif"], ".png"),
        (["hand", "sample", "--figure", "phi"], "synthesis model"),
        (["hand", "sample", "--figure", "density", "--line", "x"], "both --data"),
        (["hand", "sample", "--data", "{cache}", "--line", "x"], "for --figure"),
        (["hand", "sample", "--figure", "density", "--data", "{cache}", "--line", "zz"], "no line"),
        (["synth", "sample", "--figure", "density"], "--data and --line"),
    ],
)
def test_cli_figure_errors(models, tmp_path, capsys, argv, match):
    cache, pred, synth = models
    if argv[0] == "synth":
        argv, model = ["hand", *argv[1:]], synth
    else:
        model = synth if argv[0] == "write" else pred
    argv = [a.format(tmp=tmp_path, cache=cache) for a in argv]
    argv += ["--model", str(model), "-o", str(tmp_path / "o.png")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:") and match in err
