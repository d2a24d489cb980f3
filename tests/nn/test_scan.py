"""The hand-written BPTT kernels (genseq.nn.scan) and the sampling step against the plain
autograd / `step` reference paths: values and every gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genseq.hand.model import SynthesisConfig, SynthesisNet, inputs_targets
from genseq.hand.sampler import SynthStep
from genseq.nn.lstm import LSTMLayer
from genseq.nn.scan import Linear, synth_scan
from genseq.nn.window import u_grid


def _net(peep: bool, layers: int = 3, clip: float = 0.0, dtype=torch.double) -> SynthesisNet:
    torch.manual_seed(0)
    cfg = SynthesisConfig(
        alphabet_size=6, hidden_size=5, num_layers=layers, n_mixtures=2, n_window=2,
        peepholes=peep, lstm_grad_clip=clip,
    )  # fmt: skip
    net = SynthesisNet(cfg).to(dtype)
    with torch.no_grad():
        net.window.proj.bias[4:].fill_(-0.5)  # κ moves ~0.6 chars a step: φ is not ~0
    return net


def _inputs(B: int = 2, T: int = 9, U: int = 4, dtype=torch.double):
    g = torch.Generator().manual_seed(0)
    x = inputs_targets(torch.randn(B, T, 3, generator=g, dtype=dtype))[0]
    text = torch.randint(1, 6, (B, U), generator=g)
    text[-1, 2:] = 0
    return x, text


def _layer1_reference(net: SynthesisNet, x, chars, u, st, clip):
    """Layer 1 + window as the autograd loop of `cell` and `SoftWindow` (the old fast path)."""
    l1 = net.lstm1
    w_x, w_w = l1.weight_ih.split([3, net.cfg.alphabet_size], dim=1)
    gx = F.linear(x, w_x, l1.bias_ih)
    h, c, kappa, w = st["h1"], st["c1"], st["kappa"], st["w"]
    hs, ws, phis = [], [], []
    for gx_t in gx.unbind(1):
        h, c = l1.cell(torch.addmm(gx_t, w, w_w.t()), h, c, clip)
        w, kappa, phi = net.window(h, kappa, chars, None, u)
        hs.append(h)
        ws.append(w)
        phis.append(phi)
    return torch.stack(hs), torch.stack(ws), torch.stack(phis), c, kappa


# float64: the addmm path, to rounding; float32: oneDNN's packed GEMMs on CPU, to float32
CASES = [(p, c, torch.double) for p in (False, True) for c in (0.0, 0.02)]
CASES += [(True, 0.02, torch.float), (False, 0.0, torch.float)]


def _tol(dtype) -> dict:
    return dict(atol=1e-10, rtol=1e-10) if dtype == torch.double else dict(atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("peep,clip,dtype", CASES)
def test_synth_scan_equals_autograd_loop(peep, clip, dtype):
    net = _net(peep, dtype=dtype)
    x, text = _inputs(dtype=dtype)
    chars, u = net.encode_text(text), u_grid(text.shape[1], dtype=dtype)
    st = {k: (0.3 * torch.randn_like(v)).requires_grad_() for k, v in net.initial_state(2).items()}
    l1, win = net.lstm1, net.window.proj
    params = [l1.weight_ih, l1.weight_hh, l1.bias_ih, l1.bias_hh, win.weight, win.bias]
    params += [l1.peep] if peep else []
    inputs = [x.requires_grad_(), st["h1"], st["c1"], st["kappa"], st["w"]]
    res = []
    for fast in (True, False):
        if fast:
            outs = synth_scan(x.transpose(0, 1), l1.weight_ih, l1.weight_hh, l1.bias_ih,
                              l1.bias_hh, l1.peep, win.weight, win.bias, chars, u, st["h1"],
                              st["c1"], st["kappa"], st["w"], clip)  # fmt: skip
        else:
            outs = _layer1_reference(net, x, chars, u, st, clip)
        g = torch.Generator().manual_seed(1)
        loss = sum((v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum() for v in outs)
        res.append([*outs, *torch.autograd.grad(loss, params + inputs)])
    assert res[0][2].abs().max() > 1e-2  # the window reads the text
    for a, b in zip(*res, strict=True):
        torch.testing.assert_close(a, b, **_tol(dtype))


def test_synth_scan_gradcheck():
    net = _net(True)
    x, text = _inputs(T=5)
    chars, u = net.encode_text(text), u_grid(text.shape[1], dtype=torch.double)
    st = {k: 0.3 * torch.randn_like(v) for k, v in net.initial_state(2).items()}
    l1, win = net.lstm1, net.window.proj
    xt = x.transpose(0, 1).detach().requires_grad_()
    w_ih = l1.weight_ih.detach().requires_grad_()
    b_ih = l1.bias_ih.detach().requires_grad_()
    w_p = win.weight.detach().requires_grad_()
    kappa = st["kappa"].abs().requires_grad_()

    def f(xt, w_ih, b_ih, w_p, kappa):
        return synth_scan(xt, w_ih, l1.weight_hh, b_ih, l1.bias_hh, l1.peep, w_p, win.bias,
                          chars, u, st["h1"], st["c1"], kappa, st["w"])  # fmt: skip

    assert torch.autograd.gradcheck(f, (xt, w_ih, b_ih, w_p, kappa))


@pytest.mark.parametrize(
    "layers,peep,dtype",
    [(3, False, torch.double), (3, True, torch.double), (1, False, torch.double),
     (2, False, torch.double), (4, True, torch.double), (3, True, torch.float)],
)  # fmt: skip
def test_sampling_step_equals_step(layers, peep, dtype):
    net = _net(peep, layers, dtype=dtype).eval()
    x, text = _inputs(T=6, dtype=dtype)
    chars, u = net.encode_text(text), u_grid(text.shape[1], dtype=dtype)
    fast = SynthStep(net, 2)
    tol = dict(atol=1e-12, rtol=1e-10) if dtype == torch.double else dict(atol=1e-5, rtol=1e-5)
    a = b = {k: 0.3 * torch.randn_like(v) for k, v in net.initial_state(2).items()}
    with torch.no_grad():
        for x_t in x.unbind(1):
            ya, a, pa = net.step(x_t, a, chars, u)
            yb, b, pb = fast(x_t, b, chars, u)
            torch.testing.assert_close(ya, yb, **tol)
            torch.testing.assert_close(pa, pb, **tol)
            assert a.keys() == b.keys()
            for k in a:
                torch.testing.assert_close(a[k], b[k], **tol)
            b = {k: v.clone() for k, v in b.items()}  # a new dict: reloaded, same results


@pytest.mark.parametrize("peep,clip,dtype", CASES)
def test_lstm_scan_equals_autograd_loop(peep, clip, dtype):
    """`LSTMLayer.forward` (lstm_scan) vs `forward_reference` (autograd through `cell`)."""
    torch.manual_seed(0)
    layer = LSTMLayer(5, 6, peepholes=peep).to(dtype)
    x = torch.randn(3, 9, 5, dtype=dtype, requires_grad=True)
    h = torch.randn(3, 6, dtype=dtype, requires_grad=True)
    c = torch.randn(3, 6, dtype=dtype, requires_grad=True)
    clip = clip if (clip or peep) else 1e9  # no peepholes and no clip would take torch.lstm
    res = []
    for f in (layer.forward, layer.forward_reference):
        y, (hT, cT) = f(x, h, c, clip)
        g = torch.Generator().manual_seed(1)
        loss = sum((v * torch.randn(v.shape, generator=g, dtype=dtype)).sum() for v in (y, hT, cT))
        res.append([y, hT, cT, *torch.autograd.grad(loss, [x, h, c, *layer.parameters()])])
    for a, b in zip(*res, strict=True):
        torch.testing.assert_close(a, b, **_tol(dtype))


def test_packed_linear_equals_addmm():
    torch.manual_seed(0)
    w, x, add = torch.randn(16, 7), torch.randn(5, 7), torch.randn(5, 16)
    lin = Linear(w, 5)
    torch.testing.assert_close(lin(x), x @ w.t(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lin(x, add=add), add + x @ w.t(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lin(x[:2]), x[:2] @ w.t(), atol=1e-5, rtol=1e-5)  # any batch
    assert lin(x[:0]).shape == (0, 16)


@pytest.mark.parametrize("packed", [True, False], ids=["onednn", "matmul"])
def test_low_linear_rounds_the_bf16_product(packed, monkeypatch):
    """bf16 Linear: packed by oneDNN where the CPU has AVX512 (or AVX-NE-CONVERT), a plain bf16
    matmul where it has not (AVX2-only AMD EPYC: oneDNN refuses to pack bf16 there). Both give
    the bf16-rounded product of the bf16-cast operands, + add in fp32."""
    from genseq.nn import gemm

    if packed and not gemm._mkldnn_bf16_ok():
        pytest.skip("oneDNN does not pack bf16 weights on this CPU")
    monkeypatch.setattr(gemm, "_MKLDNN_BF16_OK", packed)
    torch.manual_seed(0)
    w, x, add = torch.randn(16, 7), torch.randn(5, 7), torch.randn(5, 16)
    lin = Linear(w, 5, low=torch.bfloat16)
    assert (lin.packed is not None) == packed
    bf = torch.bfloat16
    ref = (x.to(bf).float() @ w.to(bf).float().t()).to(bf).float()
    tol = dict(atol=1e-2, rtol=2**-7)  # one bf16 rounding of the product
    torch.testing.assert_close(lin(x), ref, **tol)
    torch.testing.assert_close(lin(x, add=add), add + ref, **tol)
    assert lin(x).dtype == torch.float32
