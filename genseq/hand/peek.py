"""A look at IAM-OnDB without preparing it: the first few transcribed lines of the official
files, in archive order, in well under a second (`genseq hand prepare` reads all 12,000+ lines
into a cache; a notebook or a quick plot needs a handful).
"""

from __future__ import annotations

from pathlib import Path

from genseq.errors import GenseqError
from genseq.hand.iamondb import (
    ASCII_ARCHIVE,
    ASCII_DIR,
    STROKES_ARCHIVE,
    STROKES_DIR,
    Line,
    _check_root,
    _members,
    _probe,
    _source,
    parse_csr,
    parse_strokes_xml,
)


def peek_lines(root: str | Path, n: int = 20, min_points: int = 20) -> list[Line]:
    """The first `n` lines (archive order) of the IAM-OnDB files under `root` that parse, have
    a transcription and at least `min_points` pen points; `Line.split` is not filled in.
    A folder without the official files is one GenseqError."""
    if n < 1:
        raise GenseqError(f"peek_lines needs n >= 1, got {n}")
    root = _check_root(root)
    strokes_src = _source(root, STROKES_ARCHIVE, STROKES_DIR)
    ascii_src = _source(root, ASCII_ARCHIVE, ASCII_DIR)
    _probe(strokes_src)
    _probe(ascii_src)
    problems: dict[str, list[str]] = {}
    csr: dict[str, list[str]] = {}
    for form, data in _members(ascii_src, ".txt", problems):  # 276 kB packed: all of it
        try:
            csr[form] = parse_csr(data)
        except ValueError:
            continue
    lines: list[Line] = []
    for lid, data in _members(strokes_src, ".xml", problems):
        form, _, num = lid.rpartition("-")
        texts = csr.get(form, [])
        k = int(num) if num.isdigit() else 0
        if not 1 <= k <= len(texts):
            continue
        try:
            xy, eos, t = parse_strokes_xml(data)
        except ValueError:
            continue
        if len(xy) >= min_points:
            lines.append(Line(lid, texts[k - 1], xy, eos, t))
        if len(lines) == n:
            break
    return lines
