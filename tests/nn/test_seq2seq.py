"""The generic encoder-decoder (genseq.nn.seq2seq): shapes, masking, decoding, and a toy task
it must learn."""

from __future__ import annotations

import pytest
import torch

from genseq.nn.seq2seq import Seq2Seq, Seq2SeqConfig, ctc_greedy, reverse_padded

V = 9  # tokens 1..8, 0 = pad / start / end / blank


def small(**kw) -> Seq2Seq:
    cfg = dict(vocab_size=V, src_vocab=V, enc_hidden=16, enc_layers=2, dec_hidden=24, embed=8)
    return Seq2Seq(Seq2SeqConfig(**{**cfg, "attention": 16, **kw}))


def reversal_batch(g: torch.Generator, B: int, max_len: int = 7):
    """Random strings of 2..max_len tokens and their reversals, padded with 0."""
    L = torch.randint(2, max_len + 1, (B,), generator=g)
    src = torch.zeros(B, max_len, dtype=torch.long)
    tgt = torch.zeros_like(src)
    for b in range(B):
        s = torch.randint(1, V, (int(L[b]),), generator=g)
        src[b, : L[b]], tgt[b, : L[b]] = s, s.flip(0)
    return src, L, tgt


def test_reverse_padded_reverses_each_sequence_within_its_length_and_is_an_involution():
    x = torch.arange(10.0).view(2, 5, 1)
    r = reverse_padded(x, torch.tensor([3, 5]))
    assert r[0, :, 0].tolist() == [2, 1, 0, 3, 4]
    assert r[1, :, 0].tolist() == [9, 8, 7, 6, 5]
    assert torch.equal(reverse_padded(r, torch.tensor([3, 5])), x)


def test_padding_changes_nothing_for_the_real_steps():
    m = small(location=8).eval()
    g = torch.Generator().manual_seed(1)
    src, L, tgt = reversal_batch(g, 3)
    logits, e = m(src, L, tgt)
    for b in range(3):  # each sequence alone, unpadded
        n = int(L[b])
        lb, eb = m(src[b : b + 1, :n], L[b : b + 1], tgt[b : b + 1, :n])
        assert torch.allclose(lb[0], logits[b, : n + 1], atol=1e-5)
        assert torch.allclose(eb.enc[0], e.enc[b, :n], atol=1e-5)
    assert (e.enc[0, int(L[0]) :] == 0).all()


def test_attention_never_looks_at_padding():
    m = small()
    src, L = torch.tensor([[3, 4, 0, 0]]), torch.tensor([2])
    e = m.encode(src, L)
    _, (_, _, align) = m.step(e, torch.zeros(1, dtype=torch.long), m.start(e))
    assert align[0, 2:].abs().sum() == 0 and torch.isclose(align.sum(), torch.tensor(1.0))


def test_losses_score_every_real_token_and_one_end_symbol():
    m = small(ctc=True)
    src, L, tgt = reversal_batch(torch.Generator().manual_seed(2), 4)
    parts = m.losses(src, L, tgt)
    assert int(parts["n_ce"]) == int(L.sum()) + 4
    assert int(parts["n_ctc"]) == int(L.sum())
    # the summed CE equals a per-token loop over the real positions
    logits, _ = m(src, L, tgt)
    y, mask = Seq2Seq.targets_with_end(tgt)
    ref = sum(
        -torch.log_softmax(logits[b, u], -1)[y[b, u]]
        for b in range(4)
        for u in range(y.shape[1])
        if mask[b, u]
    )
    assert torch.isclose(parts["ce"], ref, rtol=1e-5)


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    path = torch.tensor([[0, 3, 3, 0, 3, 5, 5, 0, 9]])  # the last step is past the length
    lp = torch.nn.functional.one_hot(path, 10).float().log()
    assert ctc_greedy(lp, torch.tensor([8])) == [[3, 3, 5]]


def test_beam_of_width_one_is_greedy():
    m = small().eval()
    src, L, _ = reversal_batch(torch.Generator().manual_seed(3), 5)
    assert m.beam(src, L, 9, width=1) == m.greedy(src, L, 9)


def test_needs_exactly_one_kind_of_source():
    with pytest.raises(ValueError):
        Seq2Seq(Seq2SeqConfig(vocab_size=V, input_size=3, src_vocab=V))


@pytest.mark.slow
def test_learns_to_reverse_strings():
    """The toy task of issue 13: >= 95 % exact match on 500 fresh strings (greedy) and on 50
    (beam 3)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    m = Seq2Seq(
        Seq2SeqConfig(
            V,
            src_vocab=V,
            enc_hidden=32,
            enc_layers=1,
            dec_hidden=64,
            embed=16,
            attention=32,
            location=0,
        )
    )
    steps = 500  # about 6 s of one core; >= 99.6 % on seeds 0-3 (one-cycle lr, peak 5e-3)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps)
    for _ in range(steps):
        src, L, tgt = reversal_batch(g, 32)
        parts = m.losses(src, L, tgt)
        opt.zero_grad()
        (parts["ce"] / parts["n_ce"]).backward()
        opt.step()
        sched.step()
    m.eval()
    src, L, tgt = reversal_batch(torch.Generator().manual_seed(99), 500)
    greedy = m.greedy(src, L, 10)
    exact = sum(o == tgt[b, : L[b]].tolist() for b, o in enumerate(greedy)) / 500
    beam = m.beam(src[:50], L[:50], 10, width=3)
    exact_beam = sum(o == tgt[b, : L[b]].tolist() for b, o in enumerate(beam)) / 50
    print(f"reversal exact match: greedy {exact:.1%}, beam-3 {exact_beam:.1%} (first 50)")
    assert exact >= 0.95 and exact_beam >= 0.95
