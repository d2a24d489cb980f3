import pytest
import torch
import torch.nn.functional as F

from genseq.nn.lstm import DeepLSTM, LSTMConfig, LSTMLayer
from genseq.nn.scan import lstm_scan


def _net(peep: bool, layers: int = 3, below: int = 0, dtype=torch.float32) -> DeepLSTM:
    torch.manual_seed(1)
    cfg = LSTMConfig(
        input_size=5, hidden_size=7, num_layers=layers, peepholes=peep, below_size=below
    )
    return DeepLSTM(cfg).to(dtype)


@pytest.mark.parametrize("peep", [False, True])
def test_fast_path_equals_step_path(peep):
    net = _net(peep, below=2).eval()
    x, b = torch.randn(4, 11, 5), torch.randn(4, 11, 2)
    state = tuple(torch.randn(3, 4, 7) for _ in range(2))
    y, (h, c) = net(x, state, b)
    ys, st = [], state
    for t in range(11):
        yt, st = net.step(x[:, t], st, b[:, t])
        ys.append(yt)
    torch.testing.assert_close(torch.stack(ys, 1), y, atol=1e-5, rtol=0)
    torch.testing.assert_close(st[0], h, atol=1e-5, rtol=0)
    torch.testing.assert_close(st[1], c, atol=1e-5, rtol=0)


def test_fused_layer_equals_python_cell_loop():
    """Fused torch.lstm (no peepholes) vs the hoisted loop (forced by a huge grad clip)."""
    layer = LSTMLayer(5, 6)
    x, h, c = torch.randn(3, 9, 5), torch.randn(3, 6), torch.randn(3, 6)
    y1, (h1, c1) = layer(x, h, c)
    y2, (h2, c2) = layer(x, h, c, grad_clip=1e9)
    torch.testing.assert_close(y1, y2, atol=1e-6, rtol=0)
    torch.testing.assert_close(c1, c2, atol=1e-6, rtol=0)


def test_peephole_cell_gradcheck():
    torch.manual_seed(0)
    layer = LSTMLayer(3, 4, peepholes=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.double, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.double, requires_grad=True)

    def f(x, h, c, peep):
        layer.peep.data = peep
        return layer(x, h, c)[0]

    peep = layer.peep.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, h, c: layer(x, h, c)[0], (x, h, c))

    # gradient w.r.t. the peephole weights against finite differences
    def g(p):
        return torch.func.functional_call(layer, {"peep": p}, (x.detach(), h.detach(), c.detach()))[
            0
        ]

    assert torch.autograd.gradcheck(g, (peep,))


def test_peephole_against_handwritten_equations():
    """eqs 7–11 written out directly for one step."""
    torch.manual_seed(3)
    layer = LSTMLayer(2, 3, peepholes=True).double()
    x, h, c = torch.randn(1, 2).double(), torch.randn(1, 3).double(), torch.randn(1, 3).double()
    W, U = layer.weight_ih, layer.weight_hh
    b = layer.bias_ih + layer.bias_hh
    z = x @ W.T + h @ U.T + b
    zi, zf, zg, zo = z.chunk(4, -1)
    wci, wcf, wco = layer.peep
    i = torch.sigmoid(zi + wci * c)
    f = torch.sigmoid(zf + wcf * c)
    c_new = f * c + i * torch.tanh(zg)
    o = torch.sigmoid(zo + wco * c_new)
    h_new = o * torch.tanh(c_new)
    gx = x @ W.T + layer.bias_ih
    h2, c2 = layer.cell(gx, h, c)
    torch.testing.assert_close(h2, h_new)
    torch.testing.assert_close(c2, c_new)


@pytest.mark.parametrize("peep", [False, True])
def test_state_carry_equals_one_long_pass(peep):
    net = _net(peep).eval()
    x = torch.randn(2, 30, 5)
    y_full, s_full = net(x)
    s, ys = None, []
    for chunk in x.split(7, dim=1):
        y, s = net(chunk, s)
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, 1), y_full, atol=1e-5, rtol=0)
    torch.testing.assert_close(s[1], s_full[1], atol=1e-5, rtol=0)


def test_skip_connections_shape_and_dependence():
    net = _net(False).eval()
    assert net.output_size == 21
    assert [layer.input_size for layer in net.layers] == [5, 12, 12]
    x = torch.randn(1, 4, 5, requires_grad=True)
    y, _ = net(x)
    # the top layer's output at t=0 depends on x_0 through its own skip input
    g = torch.autograd.grad(y[0, 0, 14:].sum(), x)[0]
    assert g[0, 0].abs().sum() > 0 and g[0, 1:].abs().sum() == 0


def test_plain_stack_equals_nn_lstm():
    """skip_input=False, skip_output=False is nn.LSTM: same weights, same outputs and state,
    batch-first and time-major."""
    torch.manual_seed(0)
    net = DeepLSTM(LSTMConfig(5, 7, 3, skip_input=False, skip_output=False))
    ref = torch.nn.LSTM(5, 7, 3, batch_first=True)
    with torch.no_grad():
        for n, layer in enumerate(net.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{n}").copy_(getattr(layer, name))
    assert net.output_size == 7
    x = torch.randn(4, 6, 5)
    state = tuple(torch.randn(3, 4, 7) for _ in range(2))
    want, (h, c) = ref(x, state)
    got, (h2, c2) = net(x, state)
    for a, b in ((got, want), (h2, h), (c2, c)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    got_t, _ = net(x.transpose(0, 1), state, batch_first=False)
    torch.testing.assert_close(got_t.transpose(0, 1), want, atol=1e-6, rtol=1e-5)
    step, _ = net.step(x[:, 0], state)
    torch.testing.assert_close(step, want[:, 0], atol=1e-6, rtol=1e-5)


def test_derivative_clip_limits_preactivation_grads():
    layer = LSTMLayer(3, 4)
    x = torch.randn(2, 6, 3) * 50
    h, c = torch.zeros(2, 4), torch.zeros(2, 4)
    gx_seen = []

    orig = layer.cell

    def spy(gx, h, c, grad_clip=0.0):
        gx.register_hook(lambda g: gx_seen.append(g.abs().max().item()))
        return orig(gx, h, c, grad_clip)

    layer.cell = spy
    y, _ = layer.forward_reference(x, h, c, grad_clip=1e-3)
    (y * 1000).sum().backward()
    assert gx_seen and max(gx_seen) <= 1e-3 + 1e-9
    # the BPTT kernel of the fast path: dL/d(W_ih x_t + b) is clipped the same way
    gx = F.linear(x.transpose(0, 1), layer.weight_ih, layer.bias_ih).detach().requires_grad_()
    out, _, _ = lstm_scan(gx, h, c, layer.weight_hh, layer.bias_hh, None, 1e-3)
    (out * 1000).sum().backward()
    assert 0 < gx.grad.abs().max() <= 1e-3 + 1e-9


@pytest.mark.parametrize("peep,clip", [(False, 0.0), (True, 0.0), (False, 0.05), (True, 0.05)])
def test_bptt_kernel_equals_autograd_loop(peep, clip):
    """`forward` (genseq.nn.scan.lstm_scan) vs `forward_reference` (autograd through `cell`):
    outputs, final state and every gradient, with peepholes and an active derivative clip."""
    torch.manual_seed(0)
    layer = LSTMLayer(5, 6, peepholes=peep).double()
    x = torch.randn(3, 9, 5, dtype=torch.double, requires_grad=True)
    h = torch.randn(3, 6, dtype=torch.double, requires_grad=True)
    c = torch.randn(3, 6, dtype=torch.double, requires_grad=True)
    clip = clip if (clip or peep) else 1e9  # no peepholes and no clip would take torch.lstm
    res = []
    for f in (layer.forward, layer.forward_reference):
        y, (hT, cT) = f(x, h, c, clip)
        g = torch.Generator().manual_seed(1)
        loss = sum(
            (v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum() for v in (y, hT, cT)
        )
        res.append([y, hT, cT, *torch.autograd.grad(loss, [x, h, c, *layer.parameters()])])
    for a, b in zip(*res, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    if clip == 0.0:
        assert torch.autograd.gradcheck(lambda x, h, c: layer(x, h, c)[0], (x, h, c))


@pytest.mark.parametrize(("layers", "below", "skip_input", "clip"), [
    (1, 0, True, 0.0), (3, 2, True, 0.0), (2, 0, False, 0.0), (2, 2, True, 0.5),
])  # fmt: skip
def test_one_hot_ids_are_a_lookup_equal_to_one_hot_times_w(layers, below, skip_input, clip):
    """Integer ids stand for one-hot input vectors: W one_hot(id) = W[:, id] (eq. 1), so the
    outputs, final state and every weight's gradient equal the dense one-hot pass."""
    torch.manual_seed(3)
    V = 12
    cfg = LSTMConfig(V, 6, layers, below_size=below, skip_input=skip_input, grad_clip=clip)
    net = DeepLSTM(cfg).double()
    ids = torch.randint(V, (3, 8))
    b = torch.randn(3, 8, below, dtype=torch.float64) if below else None
    state = tuple(torch.randn(layers, 3, 6, dtype=torch.float64) for _ in range(2))
    results = []
    for x in (ids, F.one_hot(ids, V).double()):
        net.zero_grad()
        y, (h, c) = net(x, state, b)
        (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).sum().backward()
        results.append([y, h, c] + [p.grad.clone() for p in net.parameters()])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    y1, _ = net.step(ids[:, 0], [s.clone() for s in state], b[:, 0] if below else None)
    torch.testing.assert_close(y1, results[0][0][:, 0], rtol=1e-10, atol=1e-12)
