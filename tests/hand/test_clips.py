"""Graves' model-level derivative clips switched on (§4.2): the output clip bounds dL/dŷ
elementwise (checked against clamping autograd's derivative by hand), the LSTM clip bounds
the derivatives reaching the gates; both flags reach the model through `hand train`."""

from __future__ import annotations

import json

import torch

from genseq.hand.model import PredictionConfig, PredictionNet, inputs_targets
from genseq.nn.mdn import mdn_nll, split_params
from tests.hand.conftest import train_tiny


def _strokes(B: int = 2, T: int = 30) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, 3, generator=g) * 3
    x[..., 2] = (torch.rand(B, T, generator=g) < 0.1).float()
    return x


def _grads(net: PredictionNet, strokes: torch.Tensor, keep_y: bool = False):
    inp, tgt = inputs_targets(strokes)
    y, _ = net(inp)
    if keep_y:
        y.retain_grad()
    loss = mdn_nll(split_params(y, net.n_mixtures), tgt).sum()  # eq 26
    net.zero_grad()
    loss.backward()
    return y, {n: p.grad.clone() for n, p in net.named_parameters()}


def test_output_clip_clamps_dL_dyhat_elementwise():
    torch.manual_seed(0)
    cfg = dict(hidden_size=8, num_layers=2, n_mixtures=3)
    plain, clipped = (
        PredictionNet(PredictionConfig(**cfg)),
        PredictionNet(PredictionConfig(**cfg, output_grad_clip=0.05)),
    )
    clipped.load_state_dict(plain.state_dict())
    x = _strokes()
    y, g_plain = _grads(plain, x, keep_y=True)
    _, g_clip = _grads(clipped, x)
    assert y.grad.abs().max() > 0.05  # the clip is active on this data
    d = y.grad.clamp(-0.05, 0.05)  # by hand: the head's gradients from the clamped dL/dŷ
    torch.testing.assert_close(g_clip["head.proj.bias"], d.sum((0, 1)))
    h = plain.lstm(inputs_targets(x)[0])[0]
    torch.testing.assert_close(
        g_clip["head.proj.weight"], torch.einsum("bto,bti->oi", d, h), rtol=1e-5, atol=1e-6
    )
    assert not torch.allclose(g_plain["head.proj.bias"], g_clip["head.proj.bias"])


def test_lstm_clip_bounds_the_gate_derivatives():
    torch.manual_seed(0)
    v, (B, T) = 1e-3, (2, 30)
    cfg = dict(hidden_size=8, num_layers=2, n_mixtures=3)
    plain, clipped = (
        PredictionNet(PredictionConfig(**cfg)),
        PredictionNet(PredictionConfig(**cfg, lstm_grad_clip=v)),
    )
    clipped.load_state_dict(plain.state_dict())
    x = _strokes(B, T + 1)
    _, g_plain = _grads(plain, x)
    _, g_clip = _grads(clipped, x)
    biases = [n for n in g_clip if n.endswith("bias_hh")]
    assert biases
    for n in biases:  # each gate bias gradient sums T x B clipped derivatives
        assert g_clip[n].abs().max() <= v * B * T * (1 + 1e-5), n
        assert g_plain[n].abs().max() > v * B * T, n  # unclipped, it is larger
    # the head sees no LSTM clip: its bias gradient is the same
    torch.testing.assert_close(g_clip["head.proj.bias"], g_plain["head.proj.bias"])


def test_hand_train_flags_switch_the_clips_on(tiny_cache, tmp_path):
    assert (
        train_tiny(
            tiny_cache, tmp_path / "c", "predict", "--output-clip", "100", "--lstm-clip", "10"
        )
        == 0
    )
    assert (
        train_tiny(
            tiny_cache,
            tmp_path / "tight",
            "predict",
            "--output-clip",
            "1e-4",
            "--lstm-clip",
            "1e-4",
        )
        == 0
    )
    assert train_tiny(tiny_cache, tmp_path / "free", "predict") == 0
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())["model"]
    assert cfg["output_grad_clip"] == 100.0 and cfg["lstm_grad_clip"] == 10.0
    from genseq.train.checkpoint import load_tensors

    a = load_tensors(tmp_path / "tight" / "checkpoint.safetensors")[0]
    b = load_tensors(tmp_path / "free" / "checkpoint.safetensors")[0]
    assert any(not torch.allclose(a[k], b[k]) for k in a if k.startswith("model."))
