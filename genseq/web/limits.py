"""What the web app accepts and how much work it takes on: `Limits` and the bounded
generation queue (`GenerationQueue`: 503 when full; `Deadline`: a time cap per request).
Standard library only, so `genseq serve --help` works without the [web] extra."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """The web app's limits (each one documented in the OpenAPI description)."""

    max_chars: int = 2000  # characters of text per request
    max_line_chars: int = 120  # characters per written line (the `width` field)
    max_style_chars: int = 200  # characters a style line reads
    max_style_points: int = 5000  # pen points of a style line (all strokes)
    max_export_points: int = 100_000  # pen points of a page to export (~2 MB of JSON)
    max_body_bytes: int = 2_000_000  # bytes of a request body
    workers: int = 1  # pages written at the same time
    queue: int = 16  # requests waiting beyond those (more: 503)
    time_limit: float = 300.0  # seconds a request may take, waiting included (more: 503)


class Busy(Exception):
    """The generation queue is full (HTTP 503)."""


class TimeLimit(Exception):
    """A request went past its time cap (HTTP 503)."""


class Cancelled(Exception):
    """The client went away or pressed stop."""


class GenerationQueue:
    """At most `workers` generations run at once (threads) and at most `queue` more wait;
    `reserve` refuses the rest at once with `Busy`, so a flood of requests costs nothing."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.capacity = max(1, workers), max(0, queue)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="genseq-write")
        self._lock = threading.Lock()
        self.pending = 0  # reserved: waiting + running

    def reserve(self) -> int:
        """Take a place (to hand to `submit`, or to give back with `release`) -> how many
        requests are ahead of it waiting for a worker."""
        with self._lock:
            if self.pending >= self.workers + self.capacity:
                raise Busy(
                    f"the server is busy: {self.pending} pages are being written or waiting "
                    f"(the limit is {self.workers + self.capacity}); try again in a moment"
                )
            self.pending += 1
            return max(0, self.pending - self.workers - 1)

    def release(self) -> None:
        with self._lock:
            self.pending -= 1

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run fn on a worker for a place `reserve` gave; the place is given back when fn ends
        (or when the future is cancelled before it starts)."""
        fut = self._pool.submit(fn)
        fut.add_done_callback(lambda _: self.release())
        return fut

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Deadline:
    """A request's time cap and its stop flag, checked by the sampler between steps."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.monotonic()
        self.stop = threading.Event()

    def check(self) -> None:
        if self.stop.is_set():
            raise Cancelled("stopped")
        if time.monotonic() - self.start > self.seconds:
            raise TimeLimit(
                f"the page took longer than this server's limit of {self.seconds:g} s per "
                "request and was stopped: write less text at once"
            )
