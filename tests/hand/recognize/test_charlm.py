"""The character n-gram language model (genseq.hand.recognize.charlm): interpolated modified
Kneser-Ney, computed by hand on a tiny corpus; distributions that sum to 1; files."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.recognize.charlm import (
    CharLM,
    adjusted_counts,
    count_ngrams,
    load_charlm,
    mkn_discounts,
)

AB = Alphabet(("a", "b"))  # a = 1, b = 2; 0 = the line's start (context) or end (outcome)
HALF = [(0.5, 0.5, 0.5)] * 2  # orders 1, 2: one discount for every count (plain KN)


def test_ngrams_are_the_windows_ending_at_each_predicted_symbol():
    raw = count_ngrams([[1, 2], [1, 1, 2]], 2)  # "ab", "aab": 0 a b 0, 0 a a b 0
    assert raw[0] == {(1,): 3, (2,): 2, (0,): 2}
    assert raw[1] == {(0, 1): 2, (1, 2): 2, (2, 0): 2, (1, 1): 1}


def test_kneser_ney_counts_distinct_predecessors_below_the_top_order_but_not_after_the_start():
    raw = count_ngrams([[1, 2], [1, 1, 2]], 3)
    a = adjusted_counts(raw)
    assert a[2] == raw[2]  # the highest order: raw counts
    assert a[1][(1, 2)] == 2  # "ab" after 0 and after a
    assert a[1][(0, 1)] == 2  # starts with the line start: its raw count
    assert a[0] == {(1,): 2, (2,): 1, (0,): 1}  # a after 0 and a; b after a; the end after b


def test_probabilities_by_hand_on_a_tiny_corpus():
    """Order 2, every discount 0.5, corpus "ab", "aab" (V = 3 outcomes: end, a, b).
    Unigrams (continuation counts): a 2 (after 0, a), b 1, end 1; total 4, 3 seen:
        γ() = 3 · 0.5 / 4 = 0.375;  P(a) = 1.5/4 + 0.375/3 = 0.5, P(b) = P(end) = 0.25.
    After a (raw: aa 1, ab 2; total 3, 2 seen, γ = 1/3):
        P(a|a) = 0.5/3 + 0.5/3 = 1/3,  P(b|a) = 1.5/3 + 0.25/3 = 7/12,  P(end|a) = 1/12.
    At the start (0a 2; γ = 0.25): P(a|0) = 0.75 + 0.125, P(b|0) = P(end|0) = 0.0625."""
    lm = CharLM.build(["ab", "aab"], AB, order=2, discounts=HALF)
    np.testing.assert_allclose(lm.probs([0, 2, 1]), [1 / 12, 1 / 3, 7 / 12])  # context: last 1
    np.testing.assert_allclose(lm.probs([0]), [0.0625, 0.875, 0.0625])
    np.testing.assert_allclose(lm.probs([]), [0.25, 0.5, 0.25])
    # the beam-search hook: log-probabilities of what follows a line's prefix, start added
    assert lm((1,)) == pytest.approx(np.log([1 / 12, 1 / 3, 7 / 12]).tolist())
    assert lm(()) == pytest.approx(np.log([0.0625, 0.875, 0.0625]).tolist())
    lp, n = lm.line_log2("ab")
    assert n == 3 and lp == pytest.approx(math.log2(0.875 * 7 / 12 * lm.probs([2])[0]))


def test_modified_kneser_ney_discounts_from_counts_of_counts():
    # n1 = 4, n2 = 2, n3 = 1, n4 = 1: Y = 4 / 8 = 0.5
    d1, d2, d3 = mkn_discounts([1, 1, 1, 1, 2, 2, 3, 4, 7])
    assert (d1, d2, d3) == pytest.approx((1 - 2 * 0.5 * 2 / 4, 2 - 3 * 0.5 * 1 / 2, 3 - 4 * 0.5))
    assert mkn_discounts([]) == (0.5, 0.5, 0.5)  # nothing to estimate from: Y = 1/2


TEXTS = ["the cat sat", "on the mat.", "a hat, the hat", "that", "Hats!"]


@pytest.mark.parametrize("order", [1, 3, 5])
def test_each_contexts_probabilities_sum_to_one_over_the_alphabet_and_the_end(order):
    alphabet = Alphabet.from_texts(TEXTS + ["xyzQ?"])  # characters the corpus never shows
    lm = CharLM.build(TEXTS, alphabet, order=order)
    rng = np.random.default_rng(0)
    contexts = [[0], [0, *alphabet.encode("the")], [0, *alphabet.encode("zz")]]
    contexts += [[0, *rng.integers(1, len(alphabet) + 1, k)] for k in range(8)]
    for h in contexts:
        p = lm.probs(h)
        assert p.shape == (len(alphabet) + 1,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_longer_contexts_predict_the_corpus_better():
    seen = [CharLM.build(TEXTS, Alphabet.from_texts(TEXTS), order=k) for k in (1, 3)]
    assert seen[1].bits_per_symbol(TEXTS) < seen[0].bits_per_symbol(TEXTS)


def test_a_model_saves_and_loads_as_safetensors_and_json(tmp_path):
    lm = CharLM.build(TEXTS, Alphabet.from_texts(TEXTS), order=4)
    lm.meta["decoding"] = {"lm_weight": 0.5, "bonus": 1.0}
    st, js = lm.save(tmp_path / "lm")
    cfg = json.loads(js.read_text())
    assert cfg["kind"] == "charlm" and cfg["order"] == 4 and len(cfg["discounts"]) == 4
    assert cfg["ngrams"] == [len(c) for c in lm.raw]
    back = load_charlm(tmp_path / "lm")
    for name in (tmp_path / "lm.json", st):
        assert load_charlm(name).raw == lm.raw
    assert back.decoding == {"lm_weight": 0.5, "bonus": 1.0}
    for h in ([0], [0, 5, 9, 2], [0, 1, 1, 1, 1, 1]):
        np.testing.assert_array_equal(back.probs(h), lm.probs(h))


def test_bad_files_and_orders_are_one_clear_error(tmp_path):
    with pytest.raises(GenseqError, match="^a character language model has order 1 to 10, not 0$"):
        CharLM.build(TEXTS, Alphabet.from_texts(TEXTS), order=0)
    with pytest.raises(GenseqError, match="^no character language model 'nope': nope.safet"):
        load_charlm("nope")
    lm = CharLM.build(TEXTS, Alphabet.from_texts(TEXTS), order=2)
    st, js = lm.save(tmp_path / "lm")
    from safetensors.torch import save_file

    t = lm.tensors()
    t["order2.counts"] = -t["order2.counts"]
    save_file(t, str(st))
    want = f"{tmp_path / 'lm'} is not a character language model (order 2: counts must be"
    with pytest.raises(GenseqError, match=f"^{re.escape(want)}"):
        load_charlm(st)
    js.write_text(json.dumps({"kind": "recog"}))
    with pytest.raises(GenseqError, match="its JSON is not of kind charlm"):
        load_charlm(st)
    assert torch.is_tensor(t["order1.ngrams"])
