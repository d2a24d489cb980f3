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
