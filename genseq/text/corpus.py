"""Text corpora for next-symbol prediction (Graves 2013, §3).

Formats (``load_corpus(path, fmt)``):

- ``plain``    one UTF-8 file, char-level, split 90/5/5 contiguously in order (or a directory
               holding ``train.txt``/``valid.txt``/``test.txt``, or a single ``*.txt``).
- ``ptb-char`` Mikolov's PTB at character level (``ptb.char.{train,valid,test}.txt``): one
               symbol per token, ``_`` between words, one sentence a line. Decoded to real text
               (``_`` -> space, a line end -> ``"\\n"``), it is exactly the word-level text.
               The real files give 50 symbols: 48 printable + space + newline (Graves says 49).
- ``ptb-word`` Mikolov's PTB (``ptb.{train,valid,test}.txt``), whitespace tokens, every line end
               becomes ``<eos>``: 929,589 / 73,760 / 82,430 tokens, 10,000 words incl. ``<unk>``.
- ``enwik8``   ``enwik8.zip`` (member ``enwik8``) or the raw file; bytes are the symbols
               (205 occur in the real file, as in the paper); split 90M/5M/5M.
- ``text8``    ``text8.zip`` (member ``text8``) or the raw file; chars; split 90M/5M/5M.

Vocabulary: word-level is built from the TRAIN split only (PTB's valid/test have no
out-of-vocabulary words: they were replaced by ``<unk>`` in the data); char/byte-level is built
from ALL splits, so a rare symbol seen only in valid/test still gets an id. When a vocab is given
(the one saved with a model), it encodes every split; a char/byte outside it raises GenseqError
naming it (a char model cannot score a symbol it has no output for, and silently dropping it would
flatter the bpc); a word outside it becomes ``unk`` when the vocab has one.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from genseq.errors import GenseqError

LEVELS = ("char", "word", "byte")
FORMATS = ("plain", "ptb-char", "ptb-word", "enwik8", "text8")
SPLITS = ("train", "valid", "test")
EOS = "<eos>"  # word-level end of line (Mikolov's PTB convention)
UNK = "<unk>"
HUTTER_SPLIT = (0.9, 0.05, 0.05)  # 90M/5M/5M of the 100M-symbol enwik8/text8 files


def _codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as a numpy array, without a Python loop."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _show(symbols: Iterable[str], n: int = 10) -> str:
    s = sorted(set(symbols))
    more = f" (+{len(s) - n} more)" if len(s) > n else ""
    return ", ".join(repr(x) for x in s[:n]) + more


def _word_tokens(text: str) -> list[str]:
    """Whitespace tokens; every "\\n" becomes <eos> (as Mikolov's / TF's PTB reader)."""
    return text.replace("\n", f" {EOS} ").split()


@dataclass
class Vocab:
    """Index <-> symbol table.

    ``symbols[i]`` is the symbol of id ``i``: a character (``char``), a token (``word``), or for
    ``byte`` the byte value ``b`` stored as ``chr(b)`` (latin-1), so the table is JSON-friendly.
    Byte-level ``encode`` takes str (UTF-8 encoded first) or bytes; ``decode`` returns UTF-8 text
    (invalid sequences -> U+FFFD); ``decode_bytes`` returns the raw bytes.
    """

    symbols: list[str]
    level: str
    unk: str | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise GenseqError(f"unknown vocab level {self.level!r}; expected one of {LEVELS}")
        self._index = {s: i for i, s in enumerate(self.symbols)}
        if len(self._index) != len(self.symbols):
            raise GenseqError("vocab has duplicate symbols")
        if self.level != "word" and any(len(s) != 1 for s in self.symbols):
            raise GenseqError(f"{self.level} vocab symbols must be single characters")
        if self.level == "byte" and any(ord(s) > 255 for s in self.symbols):
            raise GenseqError("byte vocab symbols must be chr(0)..chr(255)")
        if self.unk is not None and self.unk not in self._index:
            raise GenseqError(f"unk symbol {self.unk!r} is not in the vocab")

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._index

    def index(self, symbol: str) -> int:
        return self._index[symbol]

    @classmethod
    def build(cls, text_or_tokens: str | bytes | Sequence[str], level: str) -> Vocab:
        """Sorted (deterministic) vocab of the symbols in ``text_or_tokens``.

        char: characters of a str; byte: bytes of a bytes/str (UTF-8); word: a str is tokenised
        like ``encode`` (so "\\n" gives <eos>), or a list of tokens is used as is.
        """
        if level == "char":
            if not isinstance(text_or_tokens, str):
                raise GenseqError("char vocab is built from a str")
            cp = _codepoints(text_or_tokens)
            syms = [chr(c) for c in np.flatnonzero(np.bincount(cp))] if len(cp) else []
        elif level == "byte":
            data = text_or_tokens
            data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
            syms = [chr(b) for b in np.flatnonzero(counts)]
        elif level == "word":
            toks = text_or_tokens
            toks = _word_tokens(toks) if isinstance(toks, str) else list(toks)
            syms = sorted(set(toks))
        else:
            raise GenseqError(f"unknown vocab level {level!r}; expected one of {LEVELS}")
        if not syms:
            raise GenseqError("cannot build a vocab from empty text")
        return cls(syms, level, UNK if level == "word" and UNK in syms else None)

    def encode_tensor(self, text: str | bytes | Sequence[str]) -> torch.Tensor:
        """``encode`` as a 1-D int64 tensor; vectorised for char/byte (100M symbols in seconds)."""
        if self.level == "word":
            toks = _word_tokens(text) if isinstance(text, str) else list(text)
            if self.unk is None:
                missing = [t for t in set(toks) if t not in self._index]
                if missing:
                    raise GenseqError(f"unknown words for this vocab: {_show(missing)}")
                ids = [self._index[t] for t in toks]
            else:
                u = self._index[self.unk]
                ids = [self._index.get(t, u) for t in toks]
            return torch.tensor(ids, dtype=torch.int64)
        if self.level == "byte":
            raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
            cp = np.frombuffer(raw, dtype=np.uint8)
        else:
            if not isinstance(text, str):
                raise GenseqError("char vocab encodes a str")
            cp = _codepoints(text)
        sym_cp = np.array([ord(s) for s in self.symbols], dtype=np.int64)
        size = int(max(sym_cp.max(initial=0), cp.max(initial=0))) + 1
        table = np.full(size, -1, dtype=np.int64)
        table[sym_cp] = np.arange(len(sym_cp))
        ids = table[cp]  # int64, one gather
        if len(ids) and ids.min() < 0:
            bad = [chr(c) for c in np.unique(cp[ids < 0])]
            what = "bytes" if self.level == "byte" else "characters"
            raise GenseqError(f"{what} not in this model's vocab: {_show(bad)}")
        return torch.from_numpy(ids)

    def encode(self, text: str | bytes | Sequence[str]) -> list[int]:
        """char: one id per character; byte: one per UTF-8 byte; word: one per whitespace token,
        with every "\\n" as <eos>. Unknown symbols raise GenseqError naming them (words map to
        ``unk`` when the vocab has one)."""
        return self.encode_tensor(text).tolist()

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return bytes(ord(self.symbols[int(i)]) for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """char: join; byte: bytes decoded as UTF-8; word: tokens joined by spaces, <eos> -> "\\n"
        (no space around it), so ``decode(encode(t)) == t`` for single-spaced lines."""
        if self.level == "byte":
            return self.decode_bytes(ids).decode("utf-8", errors="replace")
        syms = [self.symbols[int(i)] for i in ids]
        if self.level == "char":
            return "".join(syms)
        out: list[str] = []
        for s in syms:
            if s == EOS:
                out.append("\n")
            else:
                if out and out[-1] != "\n":
                    out.append(" ")
                out.append(s)
        return "".join(out)

    def to_json(self) -> dict:
        return {"level": self.level, "symbols": list(self.symbols), "unk": self.unk}

    @classmethod
    def from_json(cls, d: dict) -> Vocab:
        try:
            return cls(list(d["symbols"]), d["level"], d.get("unk"))
        except (KeyError, TypeError) as e:
            raise GenseqError(f"malformed vocab (expects level, symbols, unk): {e}") from None


@dataclass
class Corpus:
    vocab: Vocab
    train: torch.Tensor  # 1-D int64 ids
    valid: torch.Tensor
    test: torch.Tensor
    name: str  # "plain", "ptb-char", "ptb-word", "enwik8", "text8"

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise GenseqError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)


# ----------------------------------------------------------------------------- readers


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise GenseqError(f"no such file: {path}")
    data = path.read_bytes()
    if not data.strip():
        raise GenseqError(f"empty corpus file: {path}")
    return data


def _utf8(data: bytes, path: Path) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GenseqError(f"{path} is not UTF-8 text (byte {e.start})") from None
    return text.replace("\r\n", "\n")


def _files(path: Path, pattern: str, fmt: str) -> dict[str, Path]:
    """The three split files ``pattern.format(split)`` in ``path`` (a dir, or one of them)."""
    d = path if path.is_dir() else path.parent
    if not d.is_dir():
        raise GenseqError(f"no such file or directory: {path}")
    files = {s: d / pattern.format(s) for s in SPLITS}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise GenseqError(f"{fmt}: {d} lacks {', '.join(missing)}")
    return files


def _cut(n: int, split: Sequence[float]) -> tuple[int, int]:
    """Boundaries (a, b) so train = [0, a), valid = [a, b), test = [b, n)."""
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-9:
        raise GenseqError(f"split must be 3 non-negative fractions summing to 1, got {split}")
    a = round(n * split[0])
    b = a + round(n * split[1])
    for name, lo, hi, f in zip(SPLITS, (0, a, b), (a, b, n), split, strict=True):
        if f > 0 and hi <= lo:
            raise GenseqError(f"corpus of {n} symbols is too small: its {name} split is empty")
    return a, b


def _three(ids: torch.Tensor, split: Sequence[float]) -> tuple[torch.Tensor, ...]:
    a, b = _cut(len(ids), split)
    return ids[:a], ids[a:b], ids[b:]  # views, no copies


def _ptb_char_text(raw: str, path: Path) -> str:
    """'a e r _ b a n k\\n' -> 'aer bank\\n': tokens are single symbols, '_' is the space."""
    lines = []
    for k, line in enumerate(raw.split("\n")):
        toks = line.split()
        s = "".join(toks)
        if len(s) != len(toks):
            raise GenseqError(f"{path}:{k + 1}: not PTB-char (tokens longer than one character)")
        lines.append(s)
    # every line end is "\n"; the files end with a lone " " line, which decodes to ""
    return "\n".join(lines).replace("_", " ")


def _zip_or_raw(path: Path, member: str, fmt: str) -> bytes:
    """The official archive ``member.zip`` holding ``member``, or the raw file (or a dir of it)."""
    if path.is_dir():
        cands = [path / f"{member}.zip", path / member]
        found = [p for p in cands if p.is_file()]
        if not found:
            raise GenseqError(f"{fmt}: {path} holds neither {member}.zip nor {member}")
        path = found[0]
    if not path.is_file():
        raise GenseqError(f"no such file: {path}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            name = next((n for n in names if Path(n).name == member), None)
            if name is None and len(names) == 1:
                name = names[0]
            if name is None:
                raise GenseqError(f"{fmt}: {path} has no member {member!r} (has {names[:5]})")
            data = zf.read(name)
    else:
        data = path.read_bytes()
    if not data:
        raise GenseqError(f"empty corpus file: {path}")
    return data


def load_corpus(
    path: str | Path,
    fmt: str = "plain",
    vocab: Vocab | None = None,
    split: Sequence[float] = HUTTER_SPLIT,
) -> Corpus:
    """Read a corpus in one of ``FORMATS``; see the module docstring for each layout.

    ``split``: train/valid/test fractions for single-file corpora (plain, enwik8, text8),
    contiguous and in order; the default gives exactly 90M/5M/5M on the 100M enwik8/text8
    (Graves' own enwik8 split was 96M/4M: ``split=(0.96, 0.04, 0.0)``).
    """
    path = Path(path).expanduser()
    if fmt not in FORMATS:
        raise GenseqError(f"unknown corpus format {fmt!r}; expected one of {FORMATS}")
    if not path.exists():
        raise GenseqError(f"no such file or directory: {path}")

    if fmt in ("ptb-char", "ptb-word"):
        pattern = "ptb.char.{}.txt" if fmt == "ptb-char" else "ptb.{}.txt"
        files = _files(path, pattern, fmt)
        texts = {s: _utf8(_read_bytes(p), p) for s, p in files.items()}
        if fmt == "ptb-char":
            texts = {s: _ptb_char_text(t, files[s]) for s, t in texts.items()}
            vocab = vocab or Vocab.build("".join(texts.values()), "char")
            parts = [vocab.encode_tensor(texts[s]) for s in SPLITS]
        else:
            toks = {s: _word_tokens(t) for s, t in texts.items()}
            vocab = vocab or Vocab.build(toks["train"], "word")  # train only, as Mikolov
            parts = [vocab.encode_tensor(toks[s]) for s in SPLITS]
        return Corpus(vocab, *parts, name=fmt)

    if fmt == "plain":
        if path.is_dir():
            three = {s: path / f"{s}.txt" for s in SPLITS}
            if all(p.is_file() for p in three.values()):
                texts = [_utf8(_read_bytes(p), p) for p in three.values()]
                vocab = vocab or Vocab.build("".join(texts), "char")
                return Corpus(vocab, *(vocab.encode_tensor(t) for t in texts), name=fmt)
            txts = sorted(path.glob("*.txt"))
            if len(txts) != 1:
                raise GenseqError(
                    f"plain: {path} needs train.txt, valid.txt and test.txt, or exactly one .txt"
                )
            path = txts[0]
        text = _utf8(_read_bytes(path), path)
        vocab = vocab or Vocab.build(text, "char")
        return Corpus(vocab, *_three(vocab.encode_tensor(text), split), name=fmt)

    # enwik8 / text8: the Hutter-prize style single 100M-symbol file
    data = _zip_or_raw(path, fmt, fmt)
    if fmt == "enwik8":
        vocab = vocab or Vocab.build(data, "byte")
        ids = vocab.encode_tensor(data)
    else:
        text = _utf8(data, path)
        vocab = vocab or Vocab.build(text, "char")
        ids = vocab.encode_tensor(text)
    return Corpus(vocab, *_three(ids, split), name=fmt)


# ----------------------------------------------------------------------------- batching


class StreamBatches:
    """B parallel streams over a 1-D id tensor for truncated BPTT (Graves §3: segments of 100
    steps, the LSTM state carried from one segment to the next).

    The data is cut into B contiguous streams of L = len(data) // B symbols (the remainder, < B
    symbols, is dropped); stream b is ``data[b*L:(b+1)*L]``. Segment i has inputs at stream
    positions [i*T, (i+1)*T) and targets one step later, so the last target of segment i-1 is the
    first input of segment i. The last segment is shorter when (L - 1) % T != 0: it is kept, so
    every symbol but the first of each stream is predicted exactly once per epoch.
    ``batch`` returns views (no copy); move them with ``.to(device)``.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, seq_len: int) -> None:
        if data.dim() != 1:
            raise GenseqError(f"StreamBatches needs a 1-D id tensor, got shape {tuple(data.shape)}")
        if batch_size < 1 or seq_len < 1:
            raise GenseqError(f"batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
        L = len(data) // batch_size
        if L < 2:
            raise GenseqError(f"{len(data)} symbols are too few for {batch_size} streams")
        self.batch_size, self.seq_len, self.stream_len = batch_size, seq_len, L
        self.streams = data[: batch_size * L].view(batch_size, L)  # (B, L), a view

    def __len__(self) -> int:
        return -(-(self.stream_len - 1) // self.seq_len)  # ceil((L - 1) / T)

    def batch(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"segment {i} out of range [0, {len(self)})")
        a = i * self.seq_len
        b = min(a + self.seq_len, self.stream_len - 1)
        return self.streams[:, a:b], self.streams[:, a + 1 : b + 1]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(len(self)):
            yield self.batch(i)
