"""genseq's web app (`genseq serve`, the `[web]` extra: FastAPI + uvicorn): a page where you
type, watch the text written stroke by stroke as the network samples it, and write a line of
your own to be written like; plus the JSON API under /api (OpenAPI page: /docs).

    from genseq.web import create_app
    app = create_app("synth")            # any ASGI server can run it
"""

from __future__ import annotations

from typing import Any

from genseq.web.limits import Limits

__all__ = ["Limits", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # imported on use: FastAPI is an optional extra
        from genseq.web.app import create_app

        return create_app
    raise AttributeError(name)
