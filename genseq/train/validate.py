"""A model config (config.json, a checkpoint's metadata) checked against its dataclass before
anything is built: unknown or missing keys, wrong types, non-finite numbers and absurd sizes
are one GenseqError each, never a TypeError deep inside a constructor or a 100 GB allocation.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import torch

from genseq import limits
from genseq.errors import GenseqError

MAX_FLOAT = 1e6  # any float setting of a model (clips, biases): beyond, float32 kernels overflow
_COUNTS = {
    "num_layers": limits.MAX_LAYERS,
    "n_mixtures": limits.MAX_MIXTURES,
    "n_window": limits.MAX_MIXTURES,
}


def _check_value(name: str, hint: Any, v: Any) -> str | None:
    """What field `name` = v of type `hint` must be ("an integer"), or None if it already is."""
    if hint is bool:
        return None if isinstance(v, bool) else "true or false"
    if hint is int:
        if isinstance(v, bool) or not isinstance(v, int):
            return "an integer"
        top = _COUNTS.get(name, limits.MAX_WIDTH if name.endswith("_size") else None)
        low = 0 if name in ("embed_size", "below_size") else 1
        if top is not None and not low <= v <= top:
            return f"between {low} and {top:,}"
        return None
    if hint is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return "a finite number"
        if abs(v) > MAX_FLOAT:
            return f"within ±{MAX_FLOAT:g}"
        if name == "dropout" and not 0 <= v < 1:
            return "in [0, 1)"
        if name.endswith("clip") and v < 0:
            return ">= 0"
        return None
    if hint is str:
        return None if isinstance(v, str) else "a string"
    return None


def validate_config(cls: type, d: Any, where: str = "the model config") -> dict[str, Any]:
    """`d` checked against dataclass `cls` (see the module docstring); returns it."""
    if not isinstance(d, dict):
        raise GenseqError(f"{where} must be a JSON object, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise GenseqError(f"{where} has unknown keys: {', '.join(map(repr, unknown))}")
    required = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in d]
    if missing:
        raise GenseqError(f"{where} lacks {', '.join(missing)}")
    hints = typing.get_type_hints(cls)
    for name, v in d.items():
        want = _check_value(name, hints.get(name), v)
        if want:
            raise GenseqError(f"{where}: {name} must be {want}, got {v!r:.40}")
    return d


def count_weights(model_cls: type, cfg: Any) -> int:
    """Weights of `model_cls(cfg)`, counted on the meta device (nothing allocated)."""
    with torch.device("meta"):
        model = model_cls(cfg)
    return sum(p.numel() for p in model.parameters())


def check_size(model_cls: type, cfg: Any, where: str = "the model config") -> None:
    n = count_weights(model_cls, cfg)
    if n > limits.MAX_PARAMETERS:
        raise GenseqError(
            f"{where} describes {n:,} weights, over the limit of {limits.MAX_PARAMETERS:,}"
        )


def check_symbols(cfg: dict[str, Any], model_cfg: Any, where: str) -> None:
    """The alphabet / vocabulary stored beside a model has as many symbols as it reads."""
    import json

    try:
        if "alphabet" in cfg and hasattr(model_cfg, "alphabet_size"):
            n, want, what = (
                len(json.loads(cfg["alphabet"])["symbols"]) + 1,
                model_cfg.alphabet_size + (0 if getattr(model_cfg, "counts_padding", True) else 1),
                "alphabet",
            )
        elif "vocab" in cfg and hasattr(model_cfg, "vocab_size"):
            n, want, what = len(cfg["vocab"]["symbols"]), model_cfg.vocab_size, "vocabulary"
        else:
            return
    except (TypeError, KeyError, ValueError) as e:
        raise GenseqError(f"{where}: malformed alphabet or vocabulary ({e!r:.60})") from None
    if n != want:
        raise GenseqError(
            f"{where}: its {what} has {n} symbols (padding included) but the model reads {want}"
        )


# training settings: (low, high, low inclusive) per field of TrainConfig; the flag is --field
# (a weight noise std above 10 is no regulariser but overflow: the weights are ~0.1)
_TRAIN_RANGES = {
    "lr": (0.0, math.inf, False), "momentum": (0.0, 1.0, True), "clip": (0.0, math.inf, True),
    "weight_noise": (0.0, 10.0, True), "adaptive_noise": (0.0, 10.0, True),
    "noise_groups": (1, math.inf, True), "eval_every": (1, math.inf, True),
    "log_every": (1, math.inf, True), "patience": (1, math.inf, True),
    "lr_decay": (0.0, 1.0, False), "min_lr": (0.0, math.inf, True),
    "checkpoint_every": (0.0, math.inf, True), "steps": (0, math.inf, True),
    "epochs": (0.0, math.inf, True), "minutes": (0.0, math.inf, True),
}  # fmt: skip


def check_train_config(cfg: Any) -> None:
    """Every TrainConfig number finite and in its range (e.g. --eval-every >= 1)."""
    for name, (low, high, closed) in _TRAIN_RANGES.items():
        v = getattr(cfg, name)
        flag = "--" + name.replace("_", "-")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GenseqError(f"{flag} must be a finite number, got {v!r:.40}")
        if not (low <= v if closed else low < v) or v > high:
            lo = f">= {low:g}" if closed else f"> {low:g}"
            hi = "" if high == math.inf else f" and <= {high:g}"
            raise GenseqError(f"{flag} must be {lo}{hi}, got {v:g}")
