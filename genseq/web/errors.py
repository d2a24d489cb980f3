"""Every failure of a web request as JSON {"detail": "<one sentence a person understands>"}:
invalid input 422, a full queue or the time cap 503 (with Retry-After), anything unexpected
500 (logged; the server goes on)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from genseq.errors import GenseqError
from genseq.web.limits import Busy, Cancelled, TimeLimit
from genseq.web.schemas import UNION_TAGS

log = logging.getLogger("genseq.web")
MAX_ERRORS = 3  # validation problems named in one message
RETRY_AFTER = "5"  # seconds, with a 503


def _where(loc: tuple[Any, ...]) -> str:
    """('body', 'style', 'line', 'strokes', 3, 0) -> 'style.strokes[3][0]'."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if part in UNION_TAGS:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _one(err: dict[str, Any]) -> str:
    kind, loc = err.get("type", ""), tuple(err.get("loc", ()))
    if kind == "json_invalid":
        reason = (err.get("ctx") or {}).get("error", "")
        return (
            f"the request body is not valid JSON ({reason})"
            if reason
            else ("the request body is not valid JSON")
        )
    where, msg = _where(loc), str(err.get("msg", "is invalid"))
    if kind == "missing" and not where:
        return "the request needs a JSON body"
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "model_attributes_type" and not where:
        return "the request body must be a JSON object"
    msg = msg[0].lower() + msg[1:] if msg else msg
    return f"{where}: {msg}" if where else msg


def human(errors: list[dict[str, Any]]) -> str:
    """Pydantic's validation errors -> one sentence."""
    parts = list(dict.fromkeys(_one(e) for e in errors))
    more = len(parts) - MAX_ERRORS
    text = "; ".join(parts[:MAX_ERRORS])
    return text + (f" (and {more} more)" if more > 0 else "")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": human(list(e.errors()))}, 422)

    @app.exception_handler(GenseqError)
    async def refused(_: Request, e: GenseqError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, 422)

    @app.exception_handler(Busy)
    @app.exception_handler(TimeLimit)
    async def unavailable(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, 503, headers={"Retry-After": RETRY_AFTER})

    @app.exception_handler(Cancelled)
    async def cancelled(_: Request, e: Cancelled) -> JSONResponse:
        return JSONResponse({"detail": "the request was stopped"}, 499)

    @app.exception_handler(Exception)
    async def crashed(request: Request, e: Exception) -> JSONResponse:
        log.exception("error in %s %s", request.method, request.url.path)
        return JSONResponse(
            {
                "detail": f"the server failed on this request ({e.__class__.__name__}); "
                "it is logged and the server goes on"
            },
            500,
        )
