"""Model kinds: each domain registers its model classes here when it is imported
(`@register_model` in `genseq.text.model` and `genseq.hand.model`; `genseq/__init__.py`
imports both), so that a checkpoint's `"kind"` finds its class without `genseq.train`
knowing any domain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from genseq.errors import GenseqError
from genseq.train.validate import check_size, validate_config

_KINDS: dict[str, type] = {}
M = TypeVar("M", bound=type)


class Configurable:
    """A model rebuilt from its JSON config: `cfg` is an instance of the dataclass
    `config_cls`; `config_dict` / `from_config` are what `save_model` / `load_model` call;
    `kind` names the class in config.json, `needs` the keys its config.json must also hold
    (e.g. the alphabet its weights read)."""

    kind: str
    config_cls: type
    needs: tuple[str, ...] = ()
    cfg: Any

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    @classmethod
    def from_config(cls, d: dict, where: str = "the model config"):
        """The model `d` describes, validated first (genseq.train.validate)."""
        cfg = cls.config_cls(**validate_config(cls.config_cls, d, where))
        check_size(cls, cfg, where)
        return cls(cfg)


def register_model(cls: M) -> M:
    """Class decorator: models of `cls.kind` are rebuilt with `cls`."""
    kind = cls.kind  # type: ignore[attr-defined]
    if _KINDS.get(kind, cls) is not cls:
        raise ValueError(f"model kind {kind!r} is registered twice")
    _KINDS[kind] = cls
    return cls


def model_kinds() -> tuple[str, ...]:
    return tuple(sorted(_KINDS))


def model_class(kind: str) -> type:
    """The class registered for `kind`."""
    try:
        return _KINDS[kind]
    except KeyError:
        known = ", ".join(model_kinds()) or "none"
        raise GenseqError(f"unknown model kind {kind!r} (known: {known})") from None
