"""Characters users type, folded to what a model's alphabet has (`genseq write`).

Text typed or pasted by people holds characters no IAM-OnDB transcription has: accented
letters, typographic quotes and dashes, ellipses, non-breaking spaces, ligatures. Each is
replaced by the nearest characters the alphabet does have — é → e, “ → ", — → -, … → ... —
when all of them are in the alphabet; a character that cannot be folded is left in place (and
refused later with the one line naming it). Two sources, in order:
1. `TABLE`: typography that Unicode does not decompose (quotes, dashes, ß, æ, ø, ...);
2. NFKD compatibility decomposition without its combining marks (é → e, ﬁ → fi, Ａ → A, ² → 2).
"""

from __future__ import annotations

import unicodedata

from genseq.hand.alphabet import Alphabet

TABLE = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": ",",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u0060": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "'",
    "\u203a": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u00ad": "",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": ".",
    "\u00a0": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\t": " ",
    "\u00df": "ss",
    "\u00e6": "ae",
    "\u00c6": "AE",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u00f8": "o",
    "\u00d8": "O",
    "\u0142": "l",
    "\u0141": "L",
    "\u0111": "d",
    "\u0110": "D",
    "\u00f0": "d",
    "\u00d0": "D",
    "\u00fe": "th",
    "\u00de": "Th",
    "\u0131": "i",
    "\u00d7": "x",
    "\u00f7": "/",
}


def fold_char(c: str) -> str | None:
    """The plain characters `c` folds to (may be ""), or None when it has no folding."""
    if c in TABLE:
        return TABLE[c]
    d = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    return d if d != c and d.isprintable() else None


def fold_text(text: str, alphabet: Alphabet) -> tuple[str, str]:
    """(text with every foldable character the alphabet lacks folded, the distinct characters
    folded, in order of appearance). Characters the alphabet has are never touched."""
    out: list[str] = []
    folded: dict[str, None] = {}
    for c in text:
        if c not in alphabet:
            r = fold_char(c)
            if r is not None and all(x in alphabet for x in r):
                out.append(r)
                folded[c] = None
                continue
        out.append(c)
    return "".join(out), "".join(folded)
