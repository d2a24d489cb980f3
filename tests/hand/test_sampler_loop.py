"""The scripted sampling loop (`genseq.hand.sampler_loop`) against the plain reference step.

Reference: `SynthesisNet.step` (every layer through `LSTMLayer.cell`, eqs 3, 7-11, 46-53),
then the stop rule of §5.3 (`stop_now`) and the draw of eqs 18-22, 61-62 (`mdn_draw`), one
Python call per op. The scripted loop must give the same φ and the same points step for step
(float64: to 1e-10; float32: to 1e-5; both from the same random stream), stop at the same
step, and, in `synthesize`, draw exactly the strokes the Python loop draws from a seed.
"""

from __future__ import annotations

import pytest
import torch

from genseq.hand import sampler_loop
from genseq.hand.model import SynthesisConfig, SynthesisNet
from genseq.hand.sampler import SynthStep
from genseq.hand.sampler_loop import ScriptedSteps, python_steps, scripted
from genseq.nn.mdn import mdn_draw
from genseq.nn.window import stop_now, u_grid

TOL = {torch.double: dict(atol=1e-10, rtol=1e-10), torch.float32: dict(atol=1e-5, rtol=1e-5)}


def _net(peep: bool, layers: int, dtype: torch.dtype) -> SynthesisNet:
    torch.manual_seed(0)
    cfg = SynthesisConfig(alphabet_size=6, hidden_size=5, num_layers=layers, n_mixtures=3,
                          n_window=2, peepholes=peep)  # fmt: skip
    net = SynthesisNet(cfg).to(dtype).eval()
    with torch.no_grad():
        net.window.proj.bias[4:].fill_(-0.5)  # κ moves ~0.6 characters a step
    return net


def _text(B: int) -> torch.Tensor:
    text = torch.randint(1, 6, (B, 4), generator=torch.Generator().manual_seed(0))
    text[-1, 3:] = 0  # the last line is shorter: its own U_b in the stop rule
    return text


def _reference(net, text, steps: int, seed: int):
    """Plain steps: (xs (k,B,3), φ (k,B,U+1), the step's stop flags), k <= steps."""
    chars, u = net.encode_text(text), u_grid(text.shape[1], dtype=net.head.proj.weight.dtype)
    lengths, gen = (text != 0).sum(1), torch.Generator().manual_seed(seed)
    dt = net.head.proj.weight.dtype
    st, x = net.initial_state(text.shape[0]), torch.zeros(text.shape[0], 3, dtype=dt)
    xs, phis = [], []
    with torch.no_grad():
        for _ in range(steps):
            y, st, phi = net.step(x, st, chars, u)
            stop = stop_now(phi, lengths)
            x = mdn_draw(y, net.n_mixtures, 0.0, gen)
            xs.append(x)
            phis.append(phi)
            if stop.any():
                break
    return torch.stack(xs), torch.stack(phis), stop


@pytest.mark.parametrize("dtype", [torch.double, torch.float32])
@pytest.mark.parametrize("peep,layers,B", [(False, 3, 1), (False, 3, 2), (True, 3, 2),
                                           (False, 1, 2), (True, 2, 1)])  # fmt: skip
def test_scripted_steps_equal_the_reference_step(peep, layers, B, dtype):
    run = scripted()
    assert run is not None, "TorchScript compiles run_steps with this torch"
    net, text = _net(peep, layers, dtype), _text(B)
    ref_x, ref_phi, ref_stop = _reference(net, text, 12, seed=3)
    chars, u = net.encode_text(text), u_grid(text.shape[1], dtype=dtype)
    steps = ScriptedSteps(run, SynthStep(net, B), net.n_mixtures, 0.0,
                          torch.Generator().manual_seed(3))  # fmt: skip
    x0 = torch.zeros(B, 3, dtype=dtype)
    with torch.no_grad():
        k, xs, phis, stop, _ = steps(x0, net.initial_state(B), chars, u, (text != 0).sum(1), 12)
    assert k == len(ref_x)  # stopped at the same step (or both ran all 12)
    torch.testing.assert_close(phis, ref_phi, **TOL[dtype])
    torch.testing.assert_close(xs, ref_x, **TOL[dtype])
    assert torch.equal(stop, ref_stop)


def _write(net, text, precision: str = "fp32"):
    return net.synthesize(text, max_steps=40, generator=torch.Generator().manual_seed(7),
                          precision=precision)  # fmt: skip


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_seed_draws_the_same_strokes_as_the_python_loop(precision):
    net = _net(False, 3, torch.float32)
    text = _text(3)
    text[0, 2:] = 0  # three lengths: items leave the batch at different steps
    a = _write(net, text, precision)
    with python_steps():
        b = _write(net, text, precision)
    assert a.stopped == b.stopped
    for sa, sb, pa, pb in zip(a.strokes, b.strokes, a.phi, b.phi, strict=True):
        assert torch.equal(sa, sb)
        assert torch.equal(pa, pb)


def test_falls_back_to_python_steps_when_torchscript_fails(monkeypatch):
    def broken(fn):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(sampler_loop, "_SCRIPTED", [])
    monkeypatch.setattr(torch.jit, "script", broken)
    assert scripted() is None
    net, text = _net(False, 3, torch.float32), _text(2)
    a = _write(net, text)
    with python_steps():
        b = _write(net, text)
    assert all(torch.equal(sa, sb) for sa, sb in zip(a.strokes, b.strokes, strict=True))
