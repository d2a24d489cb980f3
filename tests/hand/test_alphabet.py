from __future__ import annotations

import pytest

from genseq.errors import GenseqError
from genseq.hand.alphabet import NONLETTER, PAD, Alphabet, get_alphabet


def test_full_round_trip():
    a = Alphabet.from_texts(["Hello world", "fish & chips"])
    assert a.symbols == tuple(sorted(set("Hello worldfish & chips")))
    codes = a.encode("fish world")
    assert PAD not in codes and min(codes) == 1 and max(codes) == len(a)
    assert a.decode(codes) == "fish world"
    assert a.decode([*codes, PAD, PAD]) == "fish world"  # padding skipped
    assert a.size == len(a) + 1
    assert Alphabet.from_json(a.to_json()) == a


def test_unknown_characters_listed():
    a = Alphabet.from_texts(["abc "])
    with pytest.raises(GenseqError) as e:
        a.encode("a cab? Zz!z")
    msg = str(e.value)
    assert "'?', 'Z', 'z', '!'" in msg and "\n" not in msg
    assert a.missing("abcx") == "x"


def test_paper57():
    a = Alphabet.paper57()
    assert len(a) == 57  # §5: 57 symbols
    assert {" ", ".", ",", "'", NONLETTER} <= set(a.symbols)
    codes = a.encode('It\'s 42, "ok"?')
    assert a.decode(codes) == "It's ~~, ~ok~~"
    assert len(set(a.encode('0123456789!?-"#'))) == 1  # one non-letter class
    with pytest.raises(GenseqError, match="'é'"):
        a.encode("café")
    b = Alphabet.from_json(a.to_json())
    assert b == a and b.encode("Q9") == a.encode("Q9")
    assert get_alphabet("paper57") == a
    assert get_alphabet("full", ["ba"]).symbols == ("a", "b")
    with pytest.raises(GenseqError, match="unknown alphabet"):
        get_alphabet("latin")


# ---- every error message, word for word ------------------------------------------------------


def test_encode_names_the_alphabet_and_the_text():
    a = Alphabet.from_texts(["abc "])
    with pytest.raises(GenseqError) as e:
        a.encode("a?Z")
    assert str(e.value) == "the full alphabet (4 symbols) has no '?', 'Z' (text: 'a?Z')"
    with pytest.raises(GenseqError, match=r"the paper57 alphabet \(57 symbols\) has no 'é'"):
        Alphabet.paper57().encode("é")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "JSONDecodeError("),
        ("{}", "KeyError('symbols')"),
        ('{"symbols": ["a", "a"]}', "ValueError('alphabet symbols must be distinct"),
        ('{"symbols": ["ab"]}', "ValueError('alphabet symbols must be distinct"),
        ('{"symbols": [1, 2]}', "TypeError("),
        ('{"symbols": ["a"], "aliases": {"b": "z"}}', "KeyError('z')"),
        ("[1]", "TypeError("),
    ],
)
def test_malformed_alphabet(text, why):
    with pytest.raises(GenseqError) as e:
        Alphabet.from_json(text)
    msg = str(e.value)
    assert msg.startswith(f"malformed alphabet ({why}") and msg.endswith(")") and "\n" not in msg


@pytest.mark.parametrize("mode", ["latin", "Full", ""])
def test_unknown_alphabet_mode(mode):
    with pytest.raises(GenseqError) as e:
        get_alphabet(mode)
    assert str(e.value) == f"unknown alphabet {mode!r}: choose 'full' or 'paper57'"
