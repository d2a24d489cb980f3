"""`genseq` command line: a thin shell over the Python API.

Every argparse line of genseq lives in this package: `text` and `hand` (their sub-commands,
training through the one `train_flags.run_training`), `write`, `models`, `bench`. This module
wires them together and turns user errors into one line + exit code 2. The library never
imports this package (tests/test_layers.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genseq.cli import hand, text
from genseq.cli.bench import add_bench_command
from genseq.cli.models import add_models_command
from genseq.cli.serve import add_serve_command
from genseq.cli.write import add_write_command
from genseq.errors import GenseqError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genseq",
        description="Generating sequences with recurrent neural networks (Graves, 2013).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    text.register(sub)
    hand.register(sub)
    add_write_command(sub)
    add_models_command(sub)
    add_bench_command(sub)
    add_serve_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GenseqError as e:
        print(f"genseq: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genseq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `genseq text sample | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
