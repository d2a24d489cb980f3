"""Where a model's files are: a run directory, or a model shipped inside the package.

A shipped model NAME is `genseq/pretrained/NAME.safetensors` (its state dict; tensors may be
stored as float16, they load as float32) + `genseq/pretrained/NAME.json` (the keys of a run
directory's config.json, plus `"record"`: how it was trained and its validation figures).
Everywhere a model is asked for, a path that exists is a run directory and a bare name is a
shipped model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genseq.errors import GenseqError

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


@dataclass(frozen=True)
class ModelFiles:
    config: Path  # config.json or NAME.json
    weights: Path  # model.safetensors or NAME.safetensors
    shipped: bool  # True: a model shipped in PRETRAINED_DIR


def shipped_names(folder: Path | None = None) -> list[str]:
    """Names of the shipped models, sorted."""
    folder = PRETRAINED_DIR if folder is None else folder
    return sorted(p.stem for p in folder.glob("*.json") if p.with_suffix(".safetensors").is_file())


def locate(name_or_dir: str | Path, weights: str = "model.safetensors") -> ModelFiles:
    """A run directory (a path that exists; `weights` names its weights file) or the name of
    a shipped model -> its files. One clear GenseqError otherwise."""
    p = Path(name_or_dir)
    if p.is_dir():
        return ModelFiles(p / "config.json", p / weights, False)
    if p.exists():
        raise GenseqError(f"{p} is a file: give a model directory or a shipped model's name")
    name = str(name_or_dir)
    cfg = PRETRAINED_DIR / f"{name}.json"
    if p.name == name and not name.startswith(".") and cfg.is_file():
        return ModelFiles(cfg, cfg.with_suffix(".safetensors"), True)
    names = shipped_names()
    shipped = f"shipped: {', '.join(names)}" if names else "none is shipped in this install"
    raise GenseqError(f"no model {name!r}: not a directory, nor a shipped model's name ({shipped})")


def shipped_models() -> list[tuple[str, dict[str, Any]]]:
    """(name, its JSON: config + record) of every shipped model."""
    out = []
    for name in shipped_names():
        path = PRETRAINED_DIR / f"{name}.json"
        try:
            out.append((name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise GenseqError(f"shipped model {path.name} is unreadable ({e})") from None
    return out


def export_model(
    run_dir: str | Path,
    name: str,
    record: dict[str, Any],
    folder: str | Path | None = None,
    half: bool = True,
) -> tuple[Path, Path]:
    """Ship the model of a run directory as NAME.safetensors + NAME.json in `folder`
    (default: PRETRAINED_DIR): its config.json plus `record`; floating tensors stored as
    float16 when `half` (they load as float32). Both files readable by all."""
    from genseq.train.checkpoint import atomic_write_text, load_tensors, read_config, save_tensors

    files = locate(run_dir)
    if files.shipped:
        raise GenseqError(f"{run_dir}: give a run directory to export")
    config = read_config(files)
    tensors, meta = load_tensors(files.weights)
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    folder = PRETRAINED_DIR if folder is None else Path(folder)
    out = folder / f"{name}.safetensors", folder / f"{name}.json"
    save_tensors(out[0], tensors, meta)
    atomic_write_text(out[1], json.dumps({**config, "record": record}, indent=2) + "\n")
    for f in out:
        f.chmod(0o644)  # shipped with the package: readable by all
    return out


def as_float32(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors (e.g. float16 storage) as float32; others as they are."""
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
