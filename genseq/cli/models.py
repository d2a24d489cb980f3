"""`genseq models`: the models shipped inside the package, with their recorded figures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from genseq.cli.command import command
from genseq.train.pretrained import PRETRAINED_DIR, shipped_models


def add_models_command(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = command(sub, cmd_models, "list the shipped models (use their names with --model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _shape(cfg: dict[str, Any]) -> str:
    m = cfg.get("model", {})
    shape = str(cfg.get("kind"))
    if "num_layers" in m and "hidden_size" in m:
        shape += f" {m['num_layers']} x {m['hidden_size']}"
    vocab = cfg.get("vocab")
    if isinstance(vocab, dict) and isinstance(vocab.get("symbols"), list):
        shape += f", {len(vocab['symbols']):,} {vocab.get('level', '')} symbols"
    return shape


def _figures(record: Any, prefix: str = "") -> list[str]:
    """`key value` of a record's numbers and short strings, one level of nesting deep."""
    if not isinstance(record, dict):
        return []
    out = []
    for k, v in record.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int | float):
            out.append(f"{prefix}{k} {v:,.4g}" if isinstance(v, float) else f"{prefix}{k} {v:,}")
        elif isinstance(v, str) and len(v) <= 60 and "\n" not in v:
            out.append(f"{prefix}{k} {v}")
        elif isinstance(v, dict) and not prefix:
            out += _figures(v, f"{k}.")
    return out


def cmd_models(a: argparse.Namespace) -> int:
    """The trained models shipped in genseq/pretrained/, with the figures their training
    record gives (validation loss, updates, hours, hardware, ...)."""
    models = shipped_models()
    if a.json:
        print(json.dumps({name: cfg for name, cfg in models}))
        return 0
    if not models:
        print(f"no models are shipped in this install ({PRETRAINED_DIR} has none)")
        return 0
    for name, cfg in models:
        print(f"{name}: {_shape(cfg)}")
        figures = _figures(cfg.get("record", {}))
        print("    " + (", ".join(figures) if figures else "(no training record)"))
    return 0
