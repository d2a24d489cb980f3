"""CTC prefix beam search (genseq.nn.ctc_beam): exact on small cases against the sum over all
alignments, best path where best path is provably optimal, and steered by a language model."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch

from genseq.nn.ctc_beam import CTCBeam, ctc_beam, ctc_prefix_beam_search
from genseq.nn.seq2seq import ctc_greedy

EXACT = CTCBeam(beam=10_000, prune=0.0)  # nothing pruned: every prefix kept


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    """An alignment -> its labelling: repeats merged, then blanks (0) dropped."""
    out, prev = [], 0
    for k in path:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return tuple(out)


def brute_force(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(ℓ | x) of every labelling: Σ over all V^T alignments collapsing to ℓ."""
    T, V = lp.shape
    p: dict[tuple[int, ...], float] = defaultdict(float)
    for path in itertools.product(range(V), repeat=T):
        p[collapse(path)] += math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return {ell: math.log(v) for ell, v in p.items()}


def random_log_probs(rng: np.random.Generator, T: int, V: int, sharp: float = 1.0) -> np.ndarray:
    z = rng.normal(size=(T, V)) * sharp
    return z - np.log(np.exp(z).sum(1, keepdims=True))


@pytest.mark.parametrize("seed", range(8))
def test_with_an_unlimited_beam_every_labelling_scores_its_sum_over_alignments(seed):
    rng = np.random.default_rng(seed)
    T, V = int(rng.integers(1, 7)), int(rng.integers(2, 4))
    lp = random_log_probs(rng, T, V, sharp=2.0)
    exact = brute_force(lp)
    hyps = ctc_prefix_beam_search(lp, EXACT)
    assert dict(hyps).keys() == exact.keys()  # every labelling of <= T characters
    for ell, score in hyps:
        assert score == pytest.approx(exact[ell], abs=1e-9)
    best = max(exact, key=exact.get)
    assert hyps[0][0] == best


def test_the_most_probable_labelling_can_differ_from_best_path():
    # frames: a 0.4 / blank 0.6, twice. Best path: blank blank -> "" (0.36); but "a" (paths
    # a-, -a, aa) has 0.24 + 0.24 + 0.16 = 0.64.
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert ctc_greedy(torch.tensor(lp)[None], torch.tensor([2])) == [[]]
    (ell, score), *_ = ctc_prefix_beam_search(lp, CTCBeam(beam=4))
    assert ell == (1,) and score == pytest.approx(math.log(0.64))


@pytest.mark.parametrize("seed", range(5))
def test_peaked_frames_read_as_best_path(seed):
    """If the best path's own probability Π_t max_k y_t(k) exceeds 1/2, its labelling is the
    most probable: every other labelling's alignments avoid that path, so together they
    hold < 1/2."""
    rng = np.random.default_rng(seed)
    T, V = 40, 6
    lp = random_log_probs(rng, T, V)
    top = rng.integers(0, V, T)
    lp[np.arange(T), top] += 9.0  # each frame's favourite ~0.99+
    lp -= np.log(np.exp(lp).sum(1, keepdims=True))
    assert lp.max(1).sum() > math.log(0.5)
    x, n = torch.tensor(lp)[None], torch.tensor([T])
    assert ctc_beam(x, n, CTCBeam(beam=4)) == ctc_greedy(x, n)


def test_a_batch_reads_each_line_within_its_length():
    rng = np.random.default_rng(1)
    lp = np.stack([random_log_probs(rng, 6, 3, 3.0) for _ in range(2)])
    n = torch.tensor([6, 3])
    got = ctc_beam(torch.tensor(lp), n, EXACT)
    for b in range(2):
        exact = brute_force(lp[b, : n[b]])
        assert tuple(got[b]) == max(exact, key=exact.get)


def test_a_language_model_that_forbids_a_character_steers_the_reading():
    # the frames say "1 2" clearly; a model that forbids 2 makes the search read around it
    lp = np.log(np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9]]))
    assert ctc_prefix_beam_search(lp, CTCBeam(beam=8))[0][0] == (1, 2)

    def no_two(prefix: tuple[int, ...]) -> list[float]:
        return [math.log(0.5), math.log(0.5), -math.inf]  # end, 1, 2

    hyps = ctc_prefix_beam_search(lp, CTCBeam(beam=8, lm_weight=1.0), no_two)
    assert all(2 not in ell for ell, _ in hyps)
    assert hyps[0][0] == (1,)


def test_a_language_model_breaks_an_acoustic_tie_and_its_weight_and_bonus_count():
    # frame 2 cannot tell 2 from 3; the model says 3 follows 1
    lp = np.log(np.array([[0.1, 0.8, 0.05, 0.05], [0.1, 0.05, 0.425, 0.425]]))

    def three_after_one(prefix: tuple[int, ...]) -> list[float]:
        p = [0.25] * 4 if prefix[-1:] != (1,) else [0.1, 0.1, 0.1, 0.7]
        return [math.log(v) for v in p]

    cfg = CTCBeam(beam=8, lm_weight=0.5, bonus=0.3, prune=0.0)
    (ell, score), *_ = ctc_prefix_beam_search(lp, cfg, three_after_one)
    assert ell == (1, 3)
    # the only alignment of "1 3" over two frames is (1, 3): y's, α log P_lm per character
    # and for the end, β per character
    want = math.log(0.8 * 0.425) + 0.5 * math.log(0.25 * 0.7 * 0.25) + 2 * 0.3
    assert score == pytest.approx(want)


def test_an_empty_line_reads_as_nothing():
    assert ctc_beam(torch.zeros(1, 4, 3), torch.tensor([0])) == [[]]
