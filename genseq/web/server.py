"""`genseq serve`: the web app on uvicorn."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from genseq.errors import GenseqError
from genseq.web.limits import Limits


def _check_port(host: str, port: int) -> None:
    """A clear error, before the model loads, when the address cannot be served."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise GenseqError(f"cannot serve on host {host!r} ({e.strerror})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise GenseqError(f"cannot serve on {host}:{port} ({e.strerror})") from None


def serve(
    model: str | Path = "synth",
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    log_level: str = "warning",
) -> None:
    """Load the model, print the URL and serve until interrupted."""
    try:
        import uvicorn

        from genseq.web.app import create_app
    except ImportError as e:
        raise GenseqError(
            f"the web app needs the [web] extra ({e.name} is missing): pip install 'genseq[web]'"
        ) from None
    if not 0 < port < 65536:
        raise GenseqError(f"--port must be 1 to 65535, got {port}")
    _check_port(host, port)
    app = create_app(model, limits, model_name=str(model))
    shown = f"[{host}]" if ":" in host else host
    print(
        f"genseq: writing with {model} at http://{shown}:{port}/ (API: /docs; Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3)
