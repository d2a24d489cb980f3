"""metrics.jsonl: one JSON object per line (train windows, validations, skipped steps).

A line cut short by a kill is dropped on reading; on resume the lines written after the
checkpoint are dropped too (the resumed run writes them again), so the file always tells
one uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genseq.train import checkpoint as ckpt


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every complete line of `path` (none when it does not exist)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill: written again on resume
            continue
    return out


def rewrite_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    """`path` holding exactly `records` (atomic: a kill leaves the old file or the new one)."""
    ckpt.atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def append_metrics(path: Path, record: dict[str, Any]) -> None:
    """One more line; a full disk gives one clear line (the checkpoint stays as it was)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as e:
        raise ckpt.write_error(path, e) from None
