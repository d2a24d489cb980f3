"""`genseq` command line: a thin shell over the Python API.

Each domain registers its own sub-commands (`genseq.text.cli`, `genseq.hand.cli`, ...);
this module only wires them together and turns user errors into one line + exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genseq.errors import GenseqError


def build_parser() -> argparse.ArgumentParser:
    from genseq import bench
    from genseq.hand import cli as hand_cli
    from genseq.text import cli as text_cli

    p = argparse.ArgumentParser(
        prog="genseq",
        description="Generating sequences with recurrent neural networks (Graves, 2013).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    text_cli.register(sub)
    hand_cli.register(sub)
    from genseq.hand.commands import add_write_command

    add_write_command(sub)
    bench.register(sub)
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
