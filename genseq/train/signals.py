"""SIGTERM as a polite stop: the training loop ends between two updates, as on Ctrl-C."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_sigterm() -> Iterator[list[bool]]:
    """SIGTERM (plain `kill`, job schedulers, and the way to stop a `nohup cmd &` job, whose
    SIGINT the shell ignores) ends training like Ctrl-C, but only between two updates: the
    handler only raises the yielded flag, which the loop reads after each step."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        flag[0] = True

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)
