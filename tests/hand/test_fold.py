"""Characters users type (genseq.hand.fold): folded to what the alphabet has, with one
warning naming them; `--strict` refuses them; what cannot be folded is refused as before."""

from __future__ import annotations

import pytest

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.fold import fold_char, fold_text
from genseq.hand.sample import encode_lines

ASCII = Alphabet.from_texts(
    [" !\"',-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]
)


@pytest.mark.parametrize(
    "typed, plain",
    [
        ("café", "cafe"), ("naïve Zoë", "naive Zoe"), ("“quoted”", '"quoted"'),
        ("‘it’s’", "'it's'"), ("a — b – c", "a - b - c"), ("wait…", "wait..."),
        ("Straße", "Strasse"), ("ﬁne", "fine"), ("Ａ１", "A1"), ("x²", "x2"),
        ("non\u00a0breaking", "non breaking"), ("Æsop Œuvre", "AEsop OEuvre"), ("Łódź", "Lodz"),
    ],
)  # fmt: skip
def test_fold_text(typed, plain):
    assert fold_text(typed, ASCII)[0] == plain


def test_fold_names_each_character_once_and_leaves_the_rest():
    text, folded = fold_text("é é “日本” ok", ASCII)
    assert text == 'e e "日本" ok' and folded == "é“”"
    assert fold_char("日") is None and fold_char("😀") is None
    # a character the alphabet has is never folded, even when it could be
    assert fold_text("é", Alphabet.from_texts(["éa"])) == ("é", "")


def test_encode_lines_folds_unless_strict(capsys):
    ids, _ = encode_lines(ASCII, ["café — ok"], strict=False)
    err = capsys.readouterr().err
    assert err.count("genseq: warning:") == 1 and "'é' -> 'e'" in err and "'—' -> '-'" in err
    assert ASCII.decode(ids[0].tolist()) == "cafe - ok"
    with pytest.raises(GenseqError, match="cannot write 'é', '—'"):
        encode_lines(ASCII, ["café — ok"], strict=True)
    with pytest.raises(GenseqError, match="cannot write '日'"):
        encode_lines(ASCII, ["café 日"], strict=False)


def test_write_folds_with_one_warning_and_strict_refuses(tiny_synth, tmp_path, capsys):
    text = "tó stöp… Ｍr"  # the tiny model's alphabet: the letters of a few lines, space, "."
    capsys.readouterr()
    assert main(["write", text, "--model", str(tiny_synth), "-o", str(tmp_path / "a.svg")]) == 0
    err = capsys.readouterr().err
    warnings = [s for s in err.splitlines() if s.startswith("genseq: warning:")]
    assert len(warnings) == 1 and "'ó' -> 'o'" in warnings[0] and "'…' -> '...'" in warnings[0]
    argv = ["write", text, "--model", str(tiny_synth), "-o", str(tmp_path / "b.svg"), "--strict"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genseq: error:") and "'ó'" in err and "\n" not in err
