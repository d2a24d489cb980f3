"""Points while a page is written: the sampling step hook (`genseq.hand.sampling.on_step`)
and the web job built on it stream exactly the points of the finished lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genseq
from genseq.hand.sampling import on_step
from genseq.web.job import Job, page_lines, run
from genseq.web.limits import Cancelled, Deadline, TimeLimit

TEXT = "ab cd\n\nef"
WAVE = [[x * 4.0, 20.0 + 12.0 * ((x // 3) % 2)] for x in range(30)]


def _job(model, style=None, deadline: float = 600.0) -> Job:
    return Job(model, TEXT, style, 0.5, 40, 7, "black", 2.0, Deadline(deadline))


def test_the_hook_sees_every_step_of_every_line(tiny_model_dir):
    m = genseq.load(tiny_model_dir)
    seen: dict[int, list[np.ndarray]] = {}

    def hook(items, x, phi, stop):
        assert len(items) == len(x) == len(phi) == len(stop)
        for r, b in enumerate(items):
            if not stop[r]:  # the point drawn at the stopping step is not written (§5.3)
                seen.setdefault(b, []).append(x[r].numpy().copy())

    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    g = torch.Generator().manual_seed(0)
    with on_step(hook):
        syn = m.net.synthesize(ids, bias=0.5, generator=g)
    for b, s in enumerate(syn.strokes):
        assert np.array_equal(np.stack(seen[b]), s.numpy())
    # outside the block no hook is called
    m.net.synthesize(ids, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("styled", [False, True])
def test_streamed_points_are_the_points_of_the_page(tiny_model_dir, styled):
    m = genseq.load(tiny_model_dir)
    # this short line primes the tiny model so that line 0 starts with the prime's tail
    # (trimmed) and line 1 never reaches its new text (kept whole)
    style = genseq.Style.from_strokes(WAVE[:4], "to") if styled else None
    events: list[dict] = []
    out = run(_job(m, style), None, events.append)
    assert events[0] == {"event": "start", "lines": ["ab cd", "", "ef"]}
    streamed: dict[str, list] = {}
    for e in events[1:]:
        assert e["event"] == "points"
        for k, pts in e["lines"].items():
            streamed.setdefault(k, []).extend(pts)
    assert set(streamed) == {"0", "2"}  # the blank line writes nothing
    page = genseq.write(TEXT, model=m, style=style, bias=0.5, width=40, seed=7)
    assert all(len(s) for s in page.synthesis.strokes)
    for k, s in zip(("0", "2"), page.synthesis.strokes, strict=True):
        want = m.stats.denormalise(s.numpy())  # with a style: after the prime's tail
        np.testing.assert_allclose(np.array(streamed[k]), want, atol=0.006)
    assert out["lines"] == page_lines(page)
    assert out["points"] == len(page.points)


def test_page_lines_split_the_page_back_into_its_lines(tiny_model_dir):
    page = genseq.write(TEXT, model=genseq.load(tiny_model_dir), seed=3)
    lines = page_lines(page)
    assert [x["text"] for x in lines] == page.lines
    flat = [np.array(s) for x in lines for s in x["strokes"]]
    assert len(flat) == len(page.strokes)
    for a, b in zip(flat, page.strokes, strict=True):
        np.testing.assert_allclose(a, b * [1, -1], atol=0.006)


def test_stop_and_time_cap_end_the_sampling_and_leave_the_model_usable(tiny_model_dir):
    m = genseq.load(tiny_model_dir)
    job, events = _job(m), []

    def stop_when_started(e: dict) -> None:  # the stop button, pressed as writing starts
        events.append(e)
        job.deadline.stop.set()

    with pytest.raises(Cancelled):
        run(job, None, stop_when_started)
    assert [e["event"] for e in events] == ["start"]  # stopped at the first step
    with pytest.raises(TimeLimit, match="limit of"):
        run(_job(m, deadline=0.0))
    assert not m.net.training
    assert run(_job(m))["points"] > 0
