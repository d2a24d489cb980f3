"""One checkpoint format for every model: safetensors for tensors, JSON for the rest.

A model directory holds `model.safetensors` + `config.json` (what `load_model` needs) and,
while training, `checkpoint.safetensors`: weights, optimizer state, RNG state and carried
hidden state as tensors, everything else (step, data position, lr, ...) as JSON in the
safetensors metadata, so one atomic rename publishes a consistent checkpoint.
Nothing here ever unpickles.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from genseq.errors import GenseqError
from genseq.limits import MAX_CONFIG_BYTES
from genseq.train.validate import check_size, check_symbols, validate_config

# kind -> "module:Class"; each class has `config_dict()` and `from_config(dict)`
MODEL_KINDS = {
    "text": "genseq.text.model:TextModel",
    "predict": "genseq.hand.model:PredictionNet",
    "synth": "genseq.hand.model:SynthesisNet",
    "recog": "genseq.hand.recognize.model:Recognizer",
}

NEEDS = {"text": ("vocab",), "predict": ("norm",), "synth": ("norm", "alphabet")}  # in config.json


class Configurable:
    """A model rebuilt from its JSON config: `cfg` is an instance of the dataclass
    `config_cls`; `config_dict` / `from_config` are what `save_model` / `load_model` call."""

    config_cls: type
    cfg: Any

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    @classmethod
    def from_config(cls, d: dict, where: str = "the model config"):
        """The model `d` describes, validated first (genseq.train.validate)."""
        cfg = cls.config_cls(**validate_config(cls.config_cls, d, where))
        check_size(cls, cfg, where)
        return cls(cfg)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) then rename over `path`: readers never see a partial file. A write
    the disk refuses (full, read-only, no permission) is one GenseqError; `path` is unchanged."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:  # on disk before the rename publishes it
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink(missing_ok=True)
        if isinstance(e, (OSError, SafetensorError)):
            raise write_error(path, e) from None
        raise


def write_error(path: Path, e: BaseException) -> GenseqError:
    why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip()[:120]
    return GenseqError(f"cannot write {path} ({why}); its previous version, if any, is kept")


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"genseq": json.dumps(meta)}))


def checkpoint_config(path: Path, kind: tuple[str, ...]) -> dict[str, Any]:
    """The model config stored in a training checkpoint, checked to be of one of `kind`."""
    if not Path(path).is_file():
        raise GenseqError(f"nothing to resume: {path} does not exist")
    _, meta = load_tensors(path)
    cfg = meta.get("config")
    if not isinstance(cfg, dict) or "step" not in meta:
        raise GenseqError(f"{path} is not a genseq training checkpoint")
    if cfg.get("kind") not in kind:
        raise GenseqError(
            f"{path} is a checkpoint of a {cfg.get('kind', 'unknown')} model, "
            f"not of {' or '.join(kind)}"
        )
    return meta


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise GenseqError(f"no such file: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("genseq", "{}"))
        if not isinstance(meta, dict):
            raise ValueError("its genseq metadata is not a JSON object")
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError, RecursionError) as e:
        raise GenseqError(f"{path} is not a valid genseq safetensors file ({e})") from None


# ---- models -------------------------------------------------------------------------------


def save_model(out_dir: Path, model: nn.Module, extra: dict[str, Any] | None = None) -> None:
    """Write `model.safetensors` and `config.json` into out_dir (each atomically)."""
    out_dir = Path(out_dir)
    config = {"kind": model.kind, "model": model.config_dict(), **(extra or {})}  # type: ignore[attr-defined]
    save_tensors(out_dir / "model.safetensors", model.state_dict(), {"kind": model.kind})  # type: ignore[attr-defined]
    atomic_write_text(out_dir / "config.json", json.dumps(config, indent=2) + "\n")


def read_config(model_dir: Path) -> dict[str, Any]:
    model_dir = Path(model_dir)
    cfg_path = model_dir / "config.json"
    if not cfg_path.is_file():
        raise GenseqError(f"{model_dir} is not a genseq model directory (no config.json)")
    if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
        raise GenseqError(f"{cfg_path} is over {MAX_CONFIG_BYTES:,} bytes: not a genseq config")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise GenseqError(f"{cfg_path} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or str(cfg.get("kind")) not in MODEL_KINDS or "model" not in cfg:
        raise GenseqError(f"{cfg_path} does not describe a genseq model")
    missing = [k for k in NEEDS.get(cfg["kind"], ()) if k not in cfg]
    if missing:
        raise GenseqError(f"{cfg_path} lacks {', '.join(missing)}")
    return cfg


def model_class(kind: str) -> type:
    mod, cls = MODEL_KINDS[kind].split(":")
    return getattr(importlib.import_module(mod), cls)


def load_model(model_dir: Path, weights: str = "model.safetensors") -> tuple[nn.Module, dict]:
    """Rebuild a model from config.json and load its weights; returns (model, config)."""
    cfg = read_config(model_dir)
    where = str(Path(model_dir) / "config.json")
    model = model_class(cfg["kind"]).from_config(cfg["model"], where)
    check_symbols(cfg, model.cfg, where)
    tensors, _ = load_tensors(Path(model_dir) / weights)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise GenseqError(
            f"weights in {model_dir} do not match its config.json: {first[-1]}"
        ) from None
    model.eval()
    return model, cfg


# ---- optimizer state ------------------------------------------------------------------------


def optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{idx}.{name}"] = v
            else:
                scalars[f"{idx}.{name}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _same_kind(a: Any, b: Any) -> bool:
    """A saved optimizer setting `a` has the type of the fresh optimizer's `b`."""
    if isinstance(b, bool) or b is None or isinstance(b, str):
        return type(a) is type(b)
    if isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and not isinstance(a, bool)
    if isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple))
            and len(a) == len(b)
            and all(_same_kind(x, y) for x, y in zip(a, b, strict=True))
        )
    return True


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    """Restore the optimizer state; a ValueError when it does not fit this optimizer."""
    fresh = opt.state_dict()["param_groups"]
    groups = meta["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh):
        raise ValueError("its optimizer has other parameter groups")
    for g, f in zip(groups, fresh, strict=True):
        if not isinstance(g, dict) or set(g) != set(f) or g["params"] != f["params"]:
            raise ValueError("its optimizer has other parameter groups")
        if not all(_same_kind(g[k], f[k]) for k in f if k != "params"):
            raise ValueError("its optimizer settings have the wrong types")
    params = [p for grp in opt.param_groups for p in grp["params"]]
    if not all(isinstance(v, (int, float)) for v in meta["scalars"].values()):
        raise ValueError("its optimizer counters are not numbers")
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    for key, v in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    for idx, st in state.items():
        if not 0 <= idx < len(params):
            raise ValueError("its optimizer state names a parameter the model lacks")
        for v in st.values():
            if torch.is_tensor(v) and v.dim() and v.shape != params[idx].shape:
                raise ValueError("its optimizer state has the wrong shapes")
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
