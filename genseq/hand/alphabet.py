"""Character alphabets for handwriting synthesis (Graves 2013, §5).

Index 0 is reserved for padding; symbol i (1-based) is `symbols[i - 1]`.

Two modes:
- "full": every character found in the transcriptions (82 on the official IAM-OnDB CSR text,
  space included; the paper counted 80 on its copy).
- "paper57": the paper's reduced set of 57 symbols, "digits and most punctuation characters
  replaced by a single non-letter label" (§5). Our choice: the 52 letters a-z A-Z, space,
  the three most useful punctuation marks `.` `,` `'` (sentence ends, commas, contractions;
  together ~9,000 of the ~10,000 punctuation marks in the CSR text), and one non-letter class
  `~` that absorbs every other printable ASCII character (digits, `"`, `-`, `?`, `!`, ...).
  52 + 1 + 3 + 1 = 57.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from genseq.errors import GenseqError

PAD = 0
NONLETTER = "~"  # the paper57 "non-letter" class (decodes to this character)
PAPER57_KEEP = ".,'"  # punctuation kept as its own symbol in paper57 mode


@dataclass(frozen=True)
class Alphabet:
    symbols: tuple[str, ...]  # one character each; index i + 1 encodes symbols[i]
    aliases: dict[str, str] = field(default_factory=dict)  # other char -> symbol it folds into
    name: str = "full"

    def __post_init__(self) -> None:
        if len(set(self.symbols)) != len(self.symbols) or any(len(s) != 1 for s in self.symbols):
            raise ValueError("alphabet symbols must be distinct single characters")
        index = {s: i + 1 for i, s in enumerate(self.symbols)}
        for c, s in self.aliases.items():
            index.setdefault(c, index[s])
        object.__setattr__(self, "_index", index)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Alphabet:
        """The "full" alphabet: every character of `texts`, sorted by code point."""
        return cls(tuple(sorted(set("".join(texts)))), {}, "full")

    @classmethod
    def paper57(cls) -> Alphabet:
        """The paper's 57-symbol alphabet (see the module docstring)."""
        syms = " " + PAPER57_KEEP + string.ascii_uppercase + string.ascii_lowercase + NONLETTER
        kept = set(syms)
        folded = [c for c in string.digits + string.punctuation if c not in kept]
        return cls(tuple(syms), {c: NONLETTER for c in folded}, "paper57")

    # --- use ----------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of symbols, padding excluded (embedding size = len + 1)."""
        return len(self.symbols)

    @property
    def size(self) -> int:
        """Rows of a one-hot/embedding table: symbols + the padding index 0."""
        return len(self.symbols) + 1

    def __contains__(self, c: str) -> bool:
        return c in self._index  # type: ignore[attr-defined]

    def missing(self, text: str) -> str:
        """The distinct characters of `text` the alphabet cannot encode, in order of appearance."""
        index = self._index  # type: ignore[attr-defined]
        return "".join(dict.fromkeys(c for c in text if c not in index))

    def encode(self, text: str) -> list[int]:
        index = self._index  # type: ignore[attr-defined]
        try:
            return [index[c] for c in text]
        except KeyError:
            bad = self.missing(text)
            raise GenseqError(
                f"the {self.name} alphabet ({len(self)} symbols) has no "
                f"{', '.join(repr(c) for c in bad)} (text: {text!r})"
            ) from None

    def decode(self, codes: Sequence[int]) -> str:
        """Codes -> text; padding (0) is skipped, folded characters come back as their class."""
        return "".join(self.symbols[int(i) - 1] for i in codes if int(i) != PAD)

    # --- serialisation ------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "symbols": "".join(self.symbols), "aliases": self.aliases},
            ensure_ascii=True,
        )

    @classmethod
    def from_json(cls, s: str) -> Alphabet:
        try:
            d = json.loads(s)
            a = cls(tuple(d["symbols"]), dict(d.get("aliases", {})), str(d.get("name", "full")))
            if not all(isinstance(c, str) for c in (*a.symbols, *a.aliases)):
                raise TypeError("symbols must be characters")
            return a
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise GenseqError(f"malformed alphabet ({e!r:.80})") from None


def get_alphabet(mode: str | Alphabet, texts: Iterable[str] = ()) -> Alphabet:
    """ "full" (built from `texts`), "paper57", or an Alphabet passed through."""
    if isinstance(mode, Alphabet):
        return mode
    if mode == "full":
        return Alphabet.from_texts(texts)
    if mode == "paper57":
        return Alphabet.paper57()
    raise GenseqError(f"unknown alphabet {mode!r}: choose 'full' or 'paper57'")
