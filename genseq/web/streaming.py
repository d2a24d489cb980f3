"""Waiting for a page on behalf of a client: the JSON answer (`until_done`, which stops
the page if the client goes away) and the NDJSON stream of events (`stream`, which stops it
when the response ends for any reason)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future

from fastapi import Request
from fastapi.responses import StreamingResponse

from genseq.errors import GenseqError
from genseq.web.job import Job, run
from genseq.web.legibility import Scorer
from genseq.web.limits import Cancelled, Deadline, GenerationQueue, TimeLimit

DISCONNECT_POLL_S = 0.5  # how often a waiting /api/write checks that its client is still there
log = logging.getLogger("genseq.web")


async def until_done(
    queue: GenerationQueue, job: Job, score: Scorer | None, request: Request
) -> dict:
    """Run the job on a reserved place -> its result; if the client goes away first, the job
    is stopped (so a page nobody waits for does not hold the queue)."""
    fut = queue.submit(lambda: run(job, score))
    result = asyncio.wrap_future(fut)
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=DISCONNECT_POLL_S)
            if done:
                return result.result()
            if await request.is_disconnected():
                raise Cancelled("the client went away")
    finally:
        if not fut.done():
            job.deadline.stop.set()
            fut.cancel()


def stream(queue: GenerationQueue, job: Job, score: Scorer | None, ahead: int) -> StreamingResponse:
    """Run the job on a reserved place (`ahead` requests before it) -> the NDJSON response of
    its events (`genseq.web.job`)."""
    events: asyncio.Queue[dict | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def emit(e: dict | None) -> None:
        loop.call_soon_threadsafe(events.put_nowait, e)

    fut = queue.submit(lambda: _streamed(job, score, emit))
    return _Stream(_ndjson(events, ahead), job.deadline, fut)


def _streamed(j: Job, score: Scorer | None, emit: Callable[[dict | None], None]) -> None:
    """`run` on the worker, every outcome as an event; None marks the end."""
    try:
        emit({"event": "done", **run(j, score, emit)})
    except Cancelled:
        pass
    except TimeLimit as e:
        emit({"event": "error", "status": 503, "detail": str(e)})
    except GenseqError as e:
        emit({"event": "error", "status": 422, "detail": str(e)})
    except Exception as e:  # never lose the server to one page
        log.exception("writing failed")
        emit(
            {"event": "error", "status": 500, "detail": f"writing failed ({e.__class__.__name__})"}
        )
    finally:
        emit(None)


async def _ndjson(events: asyncio.Queue[dict | None], ahead: int) -> AsyncIterator[bytes]:
    if ahead:
        yield json.dumps({"event": "queued", "ahead": ahead}).encode() + b"\n"
    while (e := await events.get()) is not None:
        yield json.dumps(e, separators=(",", ":")).encode() + b"\n"


class _Stream(StreamingResponse):
    """NDJSON whose writing stops when the response ends for any reason (client gone)."""

    def __init__(self, content: AsyncIterator[bytes], deadline: Deadline, fut: Future) -> None:
        super().__init__(content, media_type="application/x-ndjson")
        self.deadline, self.fut = deadline, fut
        self.headers["Cache-Control"] = "no-cache"
        self.headers["X-Accel-Buffering"] = "no"

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.deadline.stop.set()
            self.fut.cancel()
