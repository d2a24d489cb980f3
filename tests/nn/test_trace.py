"""genseq.nn.trace: the gates and cells it reports are the ones the network runs on."""

from __future__ import annotations

import pytest
import torch

from genseq.nn.lstm import DeepLSTM, LSTMConfig
from genseq.nn.trace import trace_lstm


def _net(peep: bool) -> DeepLSTM:
    torch.manual_seed(3)
    return DeepLSTM(LSTMConfig(input_size=5, hidden_size=6, num_layers=3, peepholes=peep,
                               below_size=2)).eval()  # fmt: skip


@pytest.mark.parametrize("peep", [False, True])
def test_hidden_and_cell_states_are_the_networks(peep):
    net = _net(peep)
    x, b = torch.randn(2, 9, 5), torch.randn(2, 9, 2)
    state = tuple(torch.randn(3, 2, 6) for _ in range(2))
    y, (h, c) = net(x, state, b)
    tr = trace_lstm(net, x, state, b)
    assert len(tr) == 3
    torch.testing.assert_close(torch.cat([t.hidden for t in tr], -1), y, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.stack([t.hidden[:, -1] for t in tr]), h, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.stack([t.cell[:, -1] for t in tr]), c, atol=1e-5, rtol=0)


@pytest.mark.parametrize("peep", [False, True])
def test_gates_satisfy_eqs_9_and_11(peep):
    net = _net(peep)
    x, b = torch.randn(1, 12, 5), torch.randn(1, 12, 2)
    for t in trace_lstm(net, x, below=b):
        for g in (t.input_gate, t.forget_gate, t.output_gate):
            assert ((g > 0) & (g < 1)).all()
        c_prev = torch.cat([torch.zeros_like(t.cell[:, :1]), t.cell[:, :-1]], 1)
        c = t.forget_gate * c_prev + t.input_gate * t.cell_input  # eq. 9
        torch.testing.assert_close(c, t.cell, atol=1e-6, rtol=0)
        torch.testing.assert_close(t.output_gate * torch.tanh(t.cell), t.hidden,  # eq. 11
                                   atol=1e-6, rtol=0)  # fmt: skip


def test_first_step_by_hand():
    """Step 1 from a zero state, layer 1 of a one-layer net: the gates are sigmoids of
    W_ih x + b (eqs 7, 8, 10 with h_0 = c_0 = 0)."""
    torch.manual_seed(0)
    net = DeepLSTM(LSTMConfig(input_size=4, hidden_size=3, num_layers=1)).eval()
    x = torch.randn(1, 1, 4)
    layer = net.layers[0]
    pre = x[0, 0] @ layer.weight_ih.T + layer.bias_ih + layer.bias_hh
    i, f, g, o = pre.chunk(4)
    (t,) = trace_lstm(net, x)
    torch.testing.assert_close(t.input_gate[0, 0], torch.sigmoid(i))
    torch.testing.assert_close(t.forget_gate[0, 0], torch.sigmoid(f))
    torch.testing.assert_close(t.output_gate[0, 0], torch.sigmoid(o))
    torch.testing.assert_close(t.cell[0, 0], torch.sigmoid(i) * torch.tanh(g))


def test_language_model_trace_reads_the_text():
    from genseq.text.corpus import Vocab
    from genseq.text.model import LanguageModel, TextModel, TextModelConfig

    vocab = Vocab.build("hello world", "char")
    net = TextModel(TextModelConfig(vocab_size=len(vocab), hidden_size=8, num_layers=2))
    lm = LanguageModel(net, vocab, {})
    tr = lm.trace("hello")
    assert [tuple(t.cell.shape) for t in tr] == [(1, 5, 8), (1, 5, 8)]
    logits, _ = net(torch.tensor([vocab.encode("hello")]))
    h = torch.cat([t.hidden for t in tr], -1)
    torch.testing.assert_close(net.head(h), logits, atol=1e-5, rtol=0)
    from genseq.errors import GenseqError

    with pytest.raises(GenseqError, match="empty"):
        lm.trace("")
    with pytest.raises(GenseqError, match="not in this model's vocab"):
        lm.trace("xyz")


def test_language_model_trace_of_one_hot_ids():
    """A vocabulary larger than the hidden layer goes in as ids (TextModel._input): the trace
    reads them as one-hot rows (was a dtype RuntimeError inside F.linear)."""
    from genseq.text.corpus import Vocab
    from genseq.text.model import LanguageModel, TextModel, TextModelConfig

    vocab = Vocab.build("the quick brown fox", "char")
    net = TextModel(TextModelConfig(vocab_size=len(vocab), hidden_size=4, num_layers=2))
    assert not net._input(torch.tensor([[0]])).is_floating_point()
    tr = LanguageModel(net, vocab, {}).trace("the fox")
    logits, _ = net(torch.tensor([vocab.encode("the fox")]))
    h = torch.cat([t.hidden for t in tr], -1)
    torch.testing.assert_close(net.head(h), logits, atol=1e-5, rtol=0)
