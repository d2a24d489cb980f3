"""PredictionNet (§4) and SynthesisNet (§5): shapes, the x_1 shift, the fast training path
against the fully stepped reference, padding, state carrying, and sampling."""

from __future__ import annotations

import math

import pytest
import torch

from genseq.hand.model import (
    PredictionConfig,
    PredictionNet,
    SynthesisConfig,
    SynthesisNet,
    inputs_targets,
)
from genseq.nn.mdn import mdn_nll, split_params
from genseq.nn.window import u_grid


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def line(B: int, T: int, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, 3, generator=g, dtype=dtype)
    x[..., 2] = (torch.rand(B, T, generator=g) < 0.2).to(dtype)
    return x


def tiny_synth(layers: int = 3, peepholes: bool = False, A: int = 6, **kw) -> SynthesisNet:
    cfg = SynthesisConfig(
        alphabet_size=A,
        hidden_size=5,
        num_layers=layers,
        n_mixtures=2,
        n_window=2,
        peepholes=peepholes,
        **kw,
    )
    return SynthesisNet(cfg)


# ---- PredictionNet ----------------------------------------------------------------------------


def test_paper_sizes():
    # §4: 3 x 400 ≈ 3.4M weights, 121 outputs for M = 20; §5: 3 x 400 synthesis ≈ 3.7M
    pred = PredictionNet()
    assert pred.head.proj.out_features == 121
    assert abs(n_params(pred) - 3.4e6) / 3.4e6 < 0.02
    synth = SynthesisNet(SynthesisConfig(alphabet_size=58))  # 57 symbols + padding
    assert abs(n_params(synth) - 3.7e6) / 3.7e6 < 0.02


def test_prediction_shapes():
    net = PredictionNet(PredictionConfig(hidden_size=6, num_layers=2, n_mixtures=3))
    y, (h, c) = net(inputs_targets(line(2, 5))[0])
    assert y.shape == (2, 5, 1 + 6 * 3)
    assert h.shape == c.shape == (2, 2, 6)


def test_null_first_input():
    x = line(2, 6)
    inp, tgt = inputs_targets(x)
    assert inp.shape == tgt.shape == x.shape
    assert (inp[:, 0] == 0).all()  # x_1 = null vector (§2)
    assert torch.equal(inp[:, 1:], x[:, :-1])
    assert torch.equal(tgt, x)
    # so the first prediction is the same whatever the line
    net = PredictionNet(PredictionConfig(hidden_size=6, num_layers=2, n_mixtures=3))
    y1, _ = net(inputs_targets(line(1, 6, seed=1))[0])
    y2, _ = net(inputs_targets(line(1, 6, seed=2))[0])
    torch.testing.assert_close(y1[:, 0], y2[:, 0])
    assert not torch.allclose(y1[:, 1], y2[:, 1])


@pytest.mark.parametrize("peepholes", [False, True])
def test_prediction_step_equals_forward(peepholes):
    net = PredictionNet(
        PredictionConfig(hidden_size=7, num_layers=3, n_mixtures=2, peepholes=peepholes)
    )
    inp, _ = inputs_targets(line(3, 8))
    y, (h, c) = net(inp)
    state, ys = None, []
    for x_t in inp.unbind(1):
        y_t, state = net.step(x_t, state)
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys, 1), y, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state[0], h, atol=1e-5, rtol=1e-5)


def test_prediction_overfits_one_line():
    t = torch.arange(60, dtype=torch.float32)
    x = torch.stack([torch.cos(t / 3), torch.sin(t / 5), (t % 12 == 11).float()], -1)[None]
    inp, tgt = inputs_targets(x)
    net = PredictionNet(PredictionConfig(hidden_size=24, num_layers=2, n_mixtures=3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return mdn_nll(split_params(net(inp)[0], 3), tgt).sum()  # eq 26, one sequence

    first = loss().item()
    for _ in range(250):  # its speed: `genseq bench` (training-step rows)
        opt.zero_grad()
        loss().backward()
        opt.step()
    last = loss().item()
    assert first > 0 and last < 0.5 * first, (first, last)


def test_prediction_sample():
    net = PredictionNet(PredictionConfig(hidden_size=6, num_layers=2, n_mixtures=3))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    a = net.sample(12, generator=g())
    assert a.shape == (12, 3) and set(a[:, 2].tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(net.sample(12, generator=g()), a)  # seeded
    primed = net.sample(12, prime=line(1, 9)[0], generator=g())
    assert primed.shape == (12, 3) and not torch.allclose(primed, a)  # the prime matters
    assert net.training  # sampling restores the mode


# ---- SynthesisNet: the training path -----------------------------------------------------------


def _text(B: int = 2, U: int = 4, A: int = 6, short: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    text = torch.randint(1, A, (B, U), generator=g)
    mask = torch.ones(B, U, dtype=torch.bool)
    mask[-1, short:] = False
    return text.masked_fill(~mask, 0), mask


@pytest.mark.parametrize("layers,peepholes", [(3, False), (3, True), (1, False)])
def test_fast_path_equals_stepped_reference(layers, peepholes):
    torch.manual_seed(0)
    net = tiny_synth(layers, peepholes).double()
    with torch.no_grad():
        net.window.proj.bias[4:].fill_(-0.5)  # κ moves ~0.6 chars a step: φ is not ~0
    B, T = 2, 9
    x = inputs_targets(line(B, T, torch.float64))[0]
    text, mask = _text(B)
    # a non-zero starting state (a TBPTT carry), with gradients w.r.t. it too
    s0 = {k: (0.3 * torch.randn_like(v)).requires_grad_() for k, v in net.initial_state(B).items()}
    s0["kappa"] = s0["kappa"].detach().abs().requires_grad_()
    outs = []
    for f in (net.forward, net.forward_stepped):
        y, st, phi = f(x, text, mask, s0, return_phi=True)
        assert y.shape == (B, T, 1 + 6 * 2) and phi.shape == (B, T, 5)
        g = torch.Generator().manual_seed(1)  # the same random projection of both results
        loss = sum(
            (v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum()
            for v in (y, phi, *st.values())
        )
        grads = torch.autograd.grad(loss, [*net.parameters(), *s0.values()])
        outs.append((y, phi, st, grads))
    (y1, p1, s1, g1), (y2, p2, s2, g2) = outs
    assert p1.abs().max() > 1e-2  # the window really reads the text
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(p1, p2, atol=1e-5, rtol=1e-5)
    assert s1.keys() == s2.keys()
    for k in s1:
        torch.testing.assert_close(s1[k], s2[k], atol=1e-5, rtol=1e-5)
    assert all(g.abs().sum() > 0 for g in g1[-len(s0) :])  # the carry gets gradients
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_kappa_monotone():
    net = tiny_synth()
    text, mask = _text(3, 5, seed=2)
    chars, u = net.encode_text(text, mask), u_grid(5)
    st, kappas = net.initial_state(3), []
    with torch.no_grad():
        for x_t in inputs_targets(line(3, 20))[0].unbind(1):
            _, st, _ = net.step(x_t, st, chars, u)
            kappas.append(st["kappa"])
    k = torch.stack(kappas)
    assert (k[1:] > k[:-1]).all() and (k[0] > 0).all()  # eq 51: κ_t = κ_{t-1} + exp(κ̂)
    _, st = net(inputs_targets(line(3, 20))[0], text, mask)
    torch.testing.assert_close(st["kappa"], k[-1])


def test_padding_aware():
    torch.manual_seed(0)
    net = tiny_synth()
    with torch.no_grad():
        net.window.proj.bias[4:].fill_(0.0)  # κ ≈ 1 char a step: runs past the short text
    text, mask = _text(2, U=6, short=3)
    text[1, 3:] = torch.tensor([1, 2, 3])  # garbage ids behind the mask must not matter
    x = inputs_targets(line(2, 10))[0]
    y, st, phi = net(x, text, mask, return_phi=True)
    y1, st1, phi1 = net(x[1:], text[1:, :3], mask[1:, :3], return_phi=True)
    torch.testing.assert_close(y[1:], y1)
    torch.testing.assert_close(phi[1:, :, :4], phi1)  # u = 1..U_b+1
    for k in st:
        torch.testing.assert_close(st[k][:, 1:] if k in ("h", "c") else st[k][1:], st1[k])
    y_nomask, _ = net(x, text, torch.ones_like(mask))  # without the mask it does leak
    assert not torch.allclose(y_nomask[1:], y1)


def test_state_carry_across_chunks():
    net = tiny_synth().double()
    x = inputs_targets(line(2, 11, torch.float64))[0]
    text, mask = _text(2)
    y, st, phi = net(x, text, mask, return_phi=True)
    ya, sa, pa = net(x[:, :4], text, mask, return_phi=True)
    yb, sb, pb = net(x[:, 4:], text, mask, sa, return_phi=True)
    torch.testing.assert_close(torch.cat([ya, yb], 1), y)
    torch.testing.assert_close(torch.cat([pa, pb], 1), phi)
    for k in st:
        torch.testing.assert_close(sb[k], st[k])
    y0, _ = net(x[:, 4:], text, mask)  # the carry matters (the test can fail)
    assert not torch.allclose(y0, yb)


# ---- SynthesisNet: sampling --------------------------------------------------------------------


def forced_window(net: SynthesisNet, step: float) -> None:
    """φ(t,u) = K exp(-2 (κ_t - u)²) with κ_t = step·t, whatever the LSTM does."""
    K = net.cfg.n_window
    with torch.no_grad():
        net.window.proj.weight.zero_()
        net.window.proj.bias[:K] = 0.0  # α = 1
        net.window.proj.bias[K : 2 * K] = math.log(2.0)  # β = 2
        net.window.proj.bias[2 * K :] = math.log(step)  # κ_t - κ_{t-1} = step


def test_synthesize_stop_rule_and_cap():
    net = tiny_synth()
    forced_window(net, 0.4)
    text = torch.tensor([[1, 2, 3, 4, 0, 0], [5, 4, 3, 2, 1, 5]])
    r = net.synthesize(text, generator=torch.Generator().manual_seed(0))
    # §5.3: stop at the first t with φ(t, U+1) > φ(t, u ≤ U), i.e. κ_t = 0.4 t > U + 1/2;
    # the points drawn before that step are kept: t - 1 of them
    for U, s, p, stopped in zip((4, 6), r.strokes, r.phi, r.stopped, strict=True):
        t = math.floor((U + 0.5) / 0.4) + 1
        assert stopped and s.shape == (t - 1, 3) and p.shape == (t - 1, U + 1)
        assert set(s[:, 2].tolist()) <= {0.0, 1.0}
    assert [x.tolist() for x in r.text] == [[1, 2, 3, 4], [5, 4, 3, 2, 1, 5]]
    capped = net.synthesize(text, max_steps=7)
    assert [len(s) for s in capped.strokes] == [7, 7] and capped.stopped == [False, False]
    # default cap: steps_per_char x the number of characters, per item
    forced_window(net, 1e-3)  # the window stalls: no stop
    r = net.synthesize(text, steps_per_char=3)
    assert [len(s) for s in r.strokes] == [12, 18] and r.stopped == [False, False]
    # an empty text stops at once without holding up the others
    r = net.synthesize(torch.tensor([[0, 0, 0], [1, 2, 3]]), steps_per_char=3)
    assert [len(s) for s in r.strokes] == [0, 9] and r.stopped == [True, False]
    assert r.phi[0].shape == (0, 1)


def test_bias_lowers_variance():
    net = tiny_synth()
    forced_window(net, 1e-4)  # no stop within the cap
    text = torch.tensor([[1, 2, 3]])
    var = []
    for b in (0.0, 3.0):
        s = net.synthesize(text, bias=b, max_steps=300, generator=torch.Generator().manual_seed(0))
        var.append(s.strokes[0][:, :2].var(0).sum().item())
    assert var[1] < 0.25 * var[0], var


def test_primed_sampling_reads_the_prime_text():
    torch.manual_seed(0)
    net = tiny_synth()
    with torch.no_grad():
        net.window.proj.bias[4:].fill_(-2.0)
    prime = line(1, 12)[0]
    text = torch.tensor([[3, 4]])
    pa, pb = torch.tensor([1, 2, 1]), torch.tensor([5, 5, 2])
    sa, xa = net.prime(prime[None], torch.cat([pa, text[0]])[None])
    sb, xb = net.prime(prime[None], torch.cat([pb, text[0]])[None])
    assert torch.equal(xa, prime[None, -1])  # sampling goes on from the prime's last point
    assert not torch.allclose(sa["h1"], sb["h1"]) and not torch.allclose(sa["w"], sb["w"])
    ra = net.synthesize(
        text, prime=(prime, pa), max_steps=15, generator=torch.Generator().manual_seed(0)
    )
    rb = net.synthesize(
        text, prime=(prime, pb), max_steps=15, generator=torch.Generator().manual_seed(0)
    )
    assert ra.text[0].tolist() == [1, 2, 1, 3, 4] and ra.phi[0].shape[1] == 6
    a, b = ra.strokes[0], rb.strokes[0]
    n = min(len(a), len(b))
    assert n > 0 and not torch.allclose(a[:n], b[:n])
    # priming == reading the line with the fast path, then stepping on from x_P
    _, st = net(inputs_targets(prime[None])[0], torch.cat([pa, text[0]])[None])
    for k in st:
        torch.testing.assert_close(sa[k], st[k])
