"""Graves' derivative clips act per sequence (genseq.nn.clip): a batch's gradient is the mean of
the gradients each of its sequences gives as a batch of one, with the clips biting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genseq.hand.data import collate
from genseq.hand.model import PredictionConfig, PredictionNet, SynthesisConfig, SynthesisNet
from genseq.hand.task import HandTask, run_model, scored_mask
from genseq.nn.clip import clip_threshold, per_sequence_clips
from genseq.nn.mdn import mdn_nll, split_params
from genseq.text.corpus import Corpus, Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.task import TextTask

OUTPUT_CLIP, LSTM_CLIP = 0.3, 0.02  # small: a tiny random net's derivatives exceed them


class Lines:
    """A batcher serving fixed lines as one batch."""

    def __init__(self, lines: list[tuple[np.ndarray, np.ndarray]]):
        self.lines = lines

    def __len__(self) -> int:
        return 1

    def batch(self, epoch: int, i: int) -> dict:
        return collate(
            [s for s, _ in self.lines], [c for _, c in self.lines], ["x"] * len(self.lines)
        )


def _lines(n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for j in range(n):
        T = 12 + 5 * j  # different lengths: padding must not leak into the clip
        s = rng.normal(size=(T, 3)).astype(np.float32)
        s[:, 2] = rng.random(T) < 0.2
        out.append((s, rng.integers(1, 6, size=3 + j)))
    return out


def _model(kind: str, clip: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    v = dict(
        hidden_size=8,
        num_layers=2,
        n_mixtures=2,
        peepholes=True,  # the scan kernels (the fused path has no clip)
        lstm_grad_clip=LSTM_CLIP if clip else 0.0,
        output_grad_clip=OUTPUT_CLIP if clip else 0.0,
    )
    if kind == "predict":
        return PredictionNet(PredictionConfig(**v))
    return SynthesisNet(SynthesisConfig(alphabet_size=6, n_window=2, **v))


def _grad(model: torch.nn.Module, lines) -> torch.Tensor:
    model.zero_grad()
    loss, _, _ = HandTask(Lines(lines)).loss(model, 0, 0, None)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _old_rule_grad(model: torch.nn.Module, lines) -> torch.Tensor:
    """The batch-mean gradient with the clips at v (what genseq did before)."""
    model.zero_grad()
    b = Lines(lines).batch(0, 0)
    inputs, targets = model.inputs_targets(b["strokes"])
    y, _ = run_model(model, inputs, b)
    (mdn_nll(split_params(y, 2), targets, scored_mask(b)).sum() / len(lines)).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_batch_gradient_is_the_mean_of_per_sequence_clipped_gradients(kind):
    lines = _lines()
    model = _model(kind)
    batch = _grad(model, lines)
    ones = torch.stack([_grad(model, [ln]) for ln in lines]).mean(0)
    torch.testing.assert_close(batch, ones, rtol=1e-4, atol=1e-6)
    # the clips bite ...
    unclipped = _model(kind, clip=False)
    plain = torch.stack([_grad(unclipped, [ln]) for ln in lines]).mean(0)
    assert (ones - plain).abs().max() > 1e-2 * plain.abs().max()
    # ... and clamping the batch mean at v (B times looser) is not the same thing
    old = _old_rule_grad(model, lines)
    assert (old - ones).abs().max() > 1e-2 * ones.abs().max()


def test_text_task_clips_each_stream():
    vocab = Vocab(list("abcdefgh"), "char")
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, 8, size=400))
    corpus = Corpus(vocab, ids, ids[:50], ids[:50], "plain")

    def grad(batch_size: int, rows: slice, clip: float = 0.05) -> torch.Tensor:
        torch.manual_seed(0)
        cfg = TextModelConfig(vocab_size=8, hidden_size=8, peepholes=True, lstm_grad_clip=clip)
        model = TextModel(cfg)
        task = TextTask(corpus, batch_size=batch_size, seq_len=10)
        task.batches.streams = task.batches.streams[rows]  # these streams only
        task.batches.batch_size = task.batches.streams.shape[0]
        task.loss(model, 0, 0, None)[0].backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    batch = grad(4, slice(None))
    ones = torch.stack([grad(4, slice(j, j + 1)) for j in range(4)]).mean(0)
    torch.testing.assert_close(batch, ones, rtol=1e-4, atol=1e-7)
    plain = torch.stack([grad(4, slice(j, j + 1), clip=0.0) for j in range(4)]).mean(0)
    assert (ones - plain).abs().max() > 1e-2 * plain.abs().max()  # the clip bites


def test_clip_threshold_is_scaled_only_inside_the_block():
    assert clip_threshold(100.0) == 100.0
    with per_sequence_clips(1 / 32):
        assert clip_threshold(100.0) == pytest.approx(3.125)
        assert clip_threshold(0.0) == 0.0
    assert clip_threshold(100.0) == 100.0
    with pytest.raises(ValueError):
        with per_sequence_clips(0.0):
            pass
