"""The loss-curve PNG written next to metrics.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genseq.train.checkpoint import atomic_write


def plot_curves(history: list[dict[str, Any]], path: Path, primary: str) -> None:
    """Train and valid `primary` against the update. Drawn on a bare `Figure` (Agg canvas):
    no pyplot state, so training inside a notebook leaves its backend and figures alone."""
    from matplotlib.figure import Figure

    train = [(r["step"], r[f"train_{primary}"]) for r in history if f"train_{primary}" in r]
    valid = [(r["step"], r[f"valid_{primary}"]) for r in history if f"valid_{primary}" in r]
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), label="train", lw=1)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="valid", lw=1.5, ms=3)
    ax.set_xlabel("update")
    ax.set_ylabel(primary)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
