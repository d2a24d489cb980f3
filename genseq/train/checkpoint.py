"""One checkpoint format for every model: safetensors for tensors, JSON for the rest.

A model directory holds `model.safetensors` + `config.json` (what `load_model` needs; a
shipped model has the same two files under its name, `genseq.train.pretrained`) and,
while training, `checkpoint.safetensors`: weights, optimizer state, RNG state and carried
hidden state as tensors, everything else (step, data position, lr, ...) as JSON in the
safetensors metadata, so one atomic rename publishes a consistent checkpoint.
Nothing here ever unpickles.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from genseq.errors import GenseqError
from genseq.limits import MAX_CONFIG_BYTES
from genseq.train.pretrained import ModelFiles, as_float32, locate
from genseq.train.registry import model_class, model_kinds
from genseq.train.validate import check_symbols


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) then rename over `path`: readers never see a partial file. A write
    the disk refuses (full, read-only, no permission) is one GenseqError; `path` is unchanged."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have given
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    if not isinstance(cfg.get("model"), dict):
        raise GenseqError(f"{path}: its model config is missing or malformed")
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


def read_config(model: str | Path | ModelFiles) -> dict[str, Any]:
    """The config of a run directory (config.json) or of a shipped model (NAME.json)."""
    files = model if isinstance(model, ModelFiles) else locate(model)
    cfg_path = files.config
    if not cfg_path.is_file():
        raise GenseqError(f"{cfg_path.parent} is not a genseq model directory (no config.json)")
    if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
        raise GenseqError(f"{cfg_path} is over {MAX_CONFIG_BYTES:,} bytes: not a genseq config")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise GenseqError(f"{cfg_path} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or str(cfg.get("kind")) not in model_kinds() or "model" not in cfg:
        raise GenseqError(f"{cfg_path} does not describe a genseq model")
    missing = [k for k in model_class(cfg["kind"]).needs if k not in cfg]
    if missing:
        raise GenseqError(f"{cfg_path} lacks {', '.join(missing)}")
    return cfg


def load_model(
    name_or_dir: str | Path, weights: str = "model.safetensors"
) -> tuple[nn.Module, dict]:
    """Rebuild a model from its config and load its weights (float16 storage loads as
    float32); returns (model in eval mode, config). `name_or_dir`: a run directory (its
    `weights` file) or a shipped model's name."""
    files = locate(name_or_dir, weights)
    cfg = read_config(files)
    where = str(files.config)
    model = model_class(cfg["kind"]).from_config(cfg["model"], where)
    check_symbols(cfg, model.cfg, where)
    tensors, _ = load_tensors(files.weights)
    try:
        model.load_state_dict(as_float32(tensors))
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise GenseqError(
            f"weights in {name_or_dir} do not match its {files.config.name}: {first[-1]}"
        ) from None
    model.eval()
    return model, cfg


def init_weights(model: nn.Module, name_or_dir: str | Path) -> None:
    """Start `model` (a new run) from the weights of the model at `name_or_dir`, which must be
    of the same kind and the same model config."""
    source, cfg = load_model(name_or_dir)
    kind = model.kind  # type: ignore[attr-defined]
    if cfg["kind"] != kind:
        raise GenseqError(f"{name_or_dir} holds a {cfg['kind']} model, not a {kind} model")
    mine, theirs = model.config_dict(), cfg["model"]  # type: ignore[attr-defined]
    diff = [
        f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here"
        for k in sorted(mine.keys() | theirs.keys())
        if mine.get(k) != theirs.get(k)
    ]
    if diff:
        raise GenseqError(
            f"cannot start from {name_or_dir}: its model config differs ({'; '.join(diff)})"
        )
    model.load_state_dict(source.state_dict())


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


def _state_names(opt: torch.optim.Optimizer, settings: dict) -> set[str]:
    """The state entries `opt`'s kind keeps per parameter under `settings` (e.g. Adam's
    max_exp_avg_sq only with amsgrad): one step of a copy on a 1-element parameter."""
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    probe = type(opt)([p])
    probe.param_groups[0].update({k: v for k, v in settings.items() if k != "params"})
    try:
        probe.step()
    except Exception as e:  # noqa: BLE001 - settings the optimizer cannot run with
        raise ValueError(f"its optimizer settings do not run ({e})") from e
    return set(probe.state[p])


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
    names = [_state_names(opt, g) for g in groups]
    owner = [ns for grp, ns in zip(opt.param_groups, names, strict=True) for _ in grp["params"]]
    for idx, st in state.items():
        if not 0 <= idx < len(params):
            raise ValueError("its optimizer state names a parameter the model lacks")
        if set(st) != owner[idx]:
            raise ValueError("its optimizer state does not fit its settings")
        for v in st.values():
            if torch.is_tensor(v) and v.dim() and v.shape != params[idx].shape:
                raise ValueError("its optimizer state has the wrong shapes")
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
