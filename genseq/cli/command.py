"""One helper every command module uses to declare its sub-commands."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

from genseq.errors import GenseqError


def command(
    group: argparse._SubParsersAction,
    handler: Callable[[argparse.Namespace], int],
    help: str,
    **kw: Any,
) -> argparse.ArgumentParser:
    """The sub-command `cmd_NAME` runs as NAME (underscores as dashes); its --help description
    is the handler's docstring, `help` its line in the parent's list."""
    name = handler.__name__.removeprefix("cmd_").replace("_", "-")  # cmd_a_b runs as a-b
    p = group.add_parser(name, help=help, description=inspect.getdoc(handler), **kw)
    p.set_defaults(func=handler)
    return p


def at_least(a: argparse.Namespace, low: int, *flags: str) -> None:
    """The sizes and counts of a command checked before any work: the first of `flags`
    (attribute names of `a`) below `low` is one clear error naming it and its value."""
    for name in flags:
        value = getattr(a, name)
        if value < low:
            raise GenseqError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
