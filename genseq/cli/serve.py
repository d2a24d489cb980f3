"""`genseq serve`: the web app (`genseq.web`)."""

from __future__ import annotations

import argparse

from genseq.web.limits import Limits


def add_serve_command(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    d = Limits()
    p = sub.add_parser(
        "serve",
        help="the web app: type, watch it written, write like me (needs genseq[web])",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 serves other machines too")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="synth", help="a shipped name or a run directory")
    p.add_argument("--workers", type=int, default=d.workers, help="pages written at once")
    p.add_argument("--queue", type=int, default=d.queue, help="requests waiting (more: 503)")
    p.add_argument("--max-chars", type=int, default=d.max_chars, help="characters per request")
    p.add_argument(
        "--time-limit", type=float, default=d.time_limit, help="seconds per request (503)"
    )
    p.set_defaults(func=cmd_serve)
    return p


def cmd_serve(a: argparse.Namespace) -> int:
    from genseq.errors import GenseqError
    from genseq.web.server import serve

    if a.workers < 1 or a.queue < 0 or a.max_chars < 1 or not a.time_limit > 0:
        raise GenseqError("--workers, --max-chars and --time-limit must be > 0, --queue >= 0")
    lim = Limits(max_chars=a.max_chars, workers=a.workers, queue=a.queue, time_limit=a.time_limit)
    serve(a.model, a.host, a.port, lim)
    return 0
