"""CER / WER by edit distance, checked against cases worked out by hand."""

from __future__ import annotations

import pytest

from genseq.hand.recognize.metrics import cer, edit_distance, error_counts, wer


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        ("", "", 0),
        ("abc", "", 3),  # three deletions
        ("", "ab", 2),  # two insertions
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("flaw", "lawn", 2),  # -f, +n
        ("abc", "abc", 0),
        ("ab", "ba", 2),  # no transpositions in Levenshtein
        (["the", "cat"], ["the", "hat"], 1),
    ],
)
def test_edit_distance_of_hand_worked_cases(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_cer_is_summed_distance_over_summed_reference_characters():
    refs = ["hello world", "ab"]
    hyps = ["helo world", "abc"]  # 1 deletion (of 11 chars), 1 insertion (of 2)
    assert cer(refs, hyps) == pytest.approx(2 / 13)


def test_wer_counts_word_substitutions_insertions_and_deletions():
    refs = ["the quick brown fox", "a b"]
    hyps = ["the quick brown box", "a b c"]  # 1 substitution of 4 words, 1 insertion of 2
    assert wer(refs, hyps) == pytest.approx(2 / 6)
    c = error_counts(refs, hyps)
    assert (c["word_errors"], c["words"], c["char_errors"], c["chars"]) == (2, 6, 3, 22)


def test_a_perfect_reading_scores_zero_and_an_empty_one_scores_one():
    assert cer(["abc def"], ["abc def"]) == 0.0 and wer(["abc def"], ["abc def"]) == 0.0
    assert cer(["abc def"], [""]) == 1.0 and wer(["abc def"], [""]) == 1.0


def test_mismatched_lists_are_refused():
    with pytest.raises(ValueError):
        cer(["a"], [])
