"""One page written for a web request, on a worker thread: `genseq.write` with a step hook
(`genseq.hand.sampling.on_step`) that enforces the request's time cap and stop flag and, for
the streaming endpoint, sends the pen points as they are sampled.

Events (dicts, sent as one JSON object per line by the streaming endpoint):
    {"event": "start", "lines": [...]}                the wrapped lines ("" = paragraph break)
    {"event": "points", "lines": {"k": [[dx, dy, e], ...]}}  new pen offsets of line k
        (board units, y UP, e = 1 lifts the pen after the point), in pen order
    {"event": "done", ...WriteResponse}               the finished page, laid out
    {"event": "error", "status": 422|503|500, "detail": "..."}
The points of a line are exactly the offsets of its finished line (`Page.synthesis`, the
§5.3 stopping point dropped and, with a style, the prime's stray finish trimmed as
`trim_prime_tail` does); only the layout (line positions) comes with "done".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from genseq.api import write
from genseq.hand.layout import wrap
from genseq.hand.page import Page
from genseq.hand.sample import HandModel, prime_text
from genseq.hand.sampling import on_step
from genseq.hand.strokes import split_strokes
from genseq.hand.styles import Style
from genseq.web.legibility import Scorer
from genseq.web.limits import Deadline

Emit = Callable[[dict], None]
FLUSH_SECONDS = 0.05  # how often new points are sent while a page is written


@dataclass
class Job:
    """What to write and how; `deadline` carries the time cap and the stop flag."""

    model: HandModel
    text: str
    style: Style | None
    bias: float
    width: int
    seed: int | None
    color: str
    stroke_width: float
    deadline: Deadline


class _Progress:
    """The step hook: checks the deadline every step; with `emit`, collects each line's
    points (without the §5.3 stopping point; with a style, from the first step whose window
    peaks on the new text, as `trim_prime_tail` cuts) and sends them every FLUSH_SECONDS."""

    def __init__(self, job: Job, lines: list[str], emit: Emit | None):
        self.job, self.emit = job, emit
        self.line_of_row = [k for k, s in enumerate(lines) if s.strip()]
        alphabet, n_prime = job.model.alphabet, 0
        if job.style is not None and alphabet is not None:
            n_prime = len(alphabet.encode(prime_text(job.style.text)))
        self.n_prime = n_prime  # φ columns of the prime's text (trim_prime_tail's rule)
        # φ columns of each row's own text + 1 (the batch's φ is padded to the longest)
        self.cols = [
            n_prime + (len(alphabet.encode(lines[k])) if alphabet else 0) + 1
            for k in self.line_of_row
        ]
        self.started = [n_prime == 0] * len(self.line_of_row)
        self.buf: dict[int, list[np.ndarray]] = {}  # points to send
        self.held: dict[int, list[np.ndarray]] = {}  # the prime's tail, until the line starts
        self.last = time.monotonic()

    def __call__(self, items: list[int], x: Tensor, phi: Tensor, stop: Tensor) -> None:
        self.job.deadline.check()
        if self.emit is None:
            return
        xs, stops = x.float().numpy().copy(), stop.numpy()  # a copy: x may be reused
        for r, b in enumerate(items):
            if stops[r]:
                continue
            if not self.started[b]:  # the first step whose window peaks on the new text
                self.started[b] = int(phi[r, : self.cols[b]].argmax()) >= self.n_prime
                if self.started[b]:
                    self.held.pop(b, None)
                else:
                    self.held.setdefault(b, []).append(xs[r])
                    continue
            self.buf.setdefault(b, []).append(xs[r])
        if time.monotonic() - self.last >= FLUSH_SECONDS:
            self.flush()

    def finish(self) -> None:
        """Send the rest; a line whose window never reached its new text is kept whole (as
        `trim_prime_tail` keeps it), so its held points are its first ones."""
        for b, pts in self.held.items():
            self.buf[b] = pts + self.buf.get(b, [])
        self.held = {}
        self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.buf or self.emit is None:
            return
        stats = self.job.model.stats
        out = {
            str(self.line_of_row[b]): np.round(stats.denormalise(np.stack(p)), 2).tolist()
            for b, p in self.buf.items()
        }
        self.buf = {}
        self.emit({"event": "points", "lines": out})


def run(job: Job, scorer: Scorer | None = None, emit: Emit | None = None) -> dict:
    """Write the page (on the calling thread) -> the WriteResponse fields; with `emit`, the
    start and points events go out as it is written. Raises the deadline's TimeLimit or
    Cancelled, or a GenseqError for input the model refuses."""
    job.deadline.check()
    t0 = time.perf_counter()
    lines = wrap(job.text, job.width)
    if emit is not None:
        emit({"event": "start", "lines": lines})
    progress = _Progress(job, lines, emit)
    with on_step(progress):
        page = write(
            job.text,
            model=job.model,
            style=job.style,
            bias=job.bias,
            width=job.width,
            seed=job.seed,
        )
    progress.finish()
    seconds = time.perf_counter() - t0
    return {
        "lines": page_lines(page, scorer),
        "svg": page.svg(job.color, job.stroke_width),
        "points": len(page.points),
        "seconds": round(seconds, 3),
    }


def page_lines(page: Page, scorer: Scorer | None = None) -> list[dict]:
    """Each wrapped line with its strokes on the page (y down) and, with a scorer, its
    legibility. `compose_page` concatenates the written lines in order, each as many points
    as the network wrote for it, so the page's points split back into lines by count."""
    counts = iter([len(s) for s in page.synthesis.strokes])
    out, parts, at = [], [], 0
    for text in page.lines:
        n = next(counts) if text.strip() else 0
        pts = page.points[at : at + n]
        at += n
        strokes = [np.round(s * [1.0, -1.0] + 0.0, 2).tolist() for s in split_strokes(pts)]
        out.append({"text": text, "strokes": strokes, "legibility": None})
        if n:
            parts.append((len(out) - 1, pts))
    if scorer is not None and parts:
        offsets = [_offsets(pts) for _, pts in parts]
        scores = scorer(offsets, [out[k]["text"] for k, _ in parts])
        for (k, _), sc in zip(parts, scores, strict=True):
            out[k]["legibility"] = sc
    return out


def _offsets(points: np.ndarray) -> np.ndarray:
    """Absolute pen points (x, y, e) -> pen offsets (Δx, Δy, e), the first one (0, 0)."""
    out = np.array(points, np.float32)
    out[1:, :2] = np.diff(points[:, :2], axis=0)
    out[0, :2] = 0.0
    return out
