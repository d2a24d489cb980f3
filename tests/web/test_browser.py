"""The page in a real browser (Playwright driving Debian's chromium, headless): type two
lines, write them, watch both lines get strokes; draw a line on the pad, make it the style,
write with it; a screenshot of the result.

Skips with a reason where chromium or Playwright is missing (`.ci/run` installs chromium with
apt). GENSEQ_WEB_MODEL=<run dir or name> runs it on a real model (slow on a CPU; the
screenshot in docs/web.png was made that way), GENSEQ_WEB_SHOT=<file.png> keeps the
screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import genseq
from genseq.hand.strokes import split_strokes, to_absolute

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

CHROMIUM = os.environ.get("GENSEQ_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = int(float(os.environ.get("GENSEQ_WEB_WAIT", "300")) * 1000)


@pytest.fixture
def server(live_server):
    return live_server(time_limit=WAIT_MS / 1000)


@pytest.fixture
def page():
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield pg
        browser.close()
        assert not errors, f"the page logged errors: {errors}"


def _paths(pg, line: int) -> int:
    return pg.locator(f'#page g[data-line="{line}"] path').count()


def _wait_written(pg) -> None:
    """Until both lines have strokes (they appear while written), then until done."""
    pg.wait_for_function(
        """() => ['0', '1'].every(k =>
             document.querySelectorAll(`#page g[data-line="${k}"] path`).length > 0)""",
        timeout=WAIT_MS,
    )
    pg.wait_for_selector("#page[data-state=done]", timeout=WAIT_MS)
    assert _paths(pg, 0) > 0 and _paths(pg, 1) > 0
    assert "Written:" in pg.inner_text("#status")
    if pg.evaluate("() => window.genseqInfo.legibility"):  # a recognizer is installed
        assert pg.locator("#scores li").count() == 2


def _a_handwritten_line() -> tuple[list[np.ndarray], str]:
    """Built-in style 0's line as pen strokes, y down: real handwriting to draw on the pad."""
    st = genseq.styles()[0]
    assert st.offsets is not None and st.norm is not None
    strokes = split_strokes(to_absolute(st.norm.denormalise(st.offsets)))
    return [s * [1.0, -1.0] for s in strokes], st.text


def _draw(pg, strokes: list[np.ndarray]) -> None:
    """Draw the strokes with the mouse, scaled into the pad."""
    pg.locator("#pad").scroll_into_view_if_needed()
    box = pg.locator("#pad").bounding_box()
    assert box is not None
    allp = np.concatenate(strokes)
    lo, span = allp.min(0), np.ptp(allp, 0)
    k = min((box["width"] - 40) / span[0], (box["height"] - 30) / span[1])
    for s in strokes:
        pts = (s - lo) * k + [box["x"] + 20, box["y"] + 15]
        pg.mouse.move(*pts[0])
        pg.mouse.down()
        for x, y in pts[1:]:
            pg.mouse.move(x, y)
        pg.mouse.up()


def _download(pg, button: str, folder: Path) -> Path:
    """Click a download button -> the saved file."""
    with pg.expect_download(timeout=60_000) as d:
        pg.click(button)
    path = folder / d.value.suggested_filename
    d.value.save_as(path)
    return path


def test_type_write_draw_and_write_like_me(server, page, tmp_path):
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".style").count() >= 2  # "network" + the built-in previews
    page.fill("#text", "Hello from genseq,\nwritten while you watch.")
    page.fill("#seed", "3")
    page.click("#write")
    _wait_written(page)
    svg = _download(page, ".downloads button[data-format=svg]", tmp_path)
    assert svg.read_text().startswith("<svg") and svg.read_text().count("<path") > 2
    assert (
        _download(page, ".downloads button[data-format=gcode]", tmp_path).read_text()[:3] == "G21"
    )
    assert _download(page, ".downloads button[data-format=png]", tmp_path).read_bytes()[:4] == (
        b"\x89PNG"
    )

    # write like me: a line drawn on the pad, what it says, use it, write with it
    strokes, text = _a_handwritten_line()
    _draw(page, strokes)
    page.fill("#pad-text", text)
    page.click("#pad-use")
    page.wait_for_selector("#my-style[aria-checked=true]", timeout=60_000)
    mine = genseq.Style.from_file(_download(page, "#pad-save", tmp_path))  # the style file
    assert mine.text == text and sum(len(s) for s in mine.strokes or []) > 100
    page.fill("#text", "Now in the hand I drew,\nline by line.")
    page.click("#write")
    _wait_written(page)
    shot = Path(os.environ.get("GENSEQ_WEB_SHOT") or tmp_path / "web.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_stop_keeps_what_is_drawn(server, page, tmp_path):
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#text", "a long page to stop " * 12)
    page.locator("#speed").fill("1")  # one point a frame: the drawing is still going on
    page.click("#write")
    page.wait_for_function(
        "() => document.querySelectorAll('#page path').length > 0", timeout=WAIT_MS
    )
    page.click("#stop")
    page.wait_for_selector("#page[data-state=stopped]", timeout=30_000)
    assert "Stopped after" in page.inner_text("#status")
    assert page.locator("#write").is_enabled() and not page.locator("#stop").is_enabled()
    svg = _download(page, ".downloads button[data-format=svg]", tmp_path).read_text()
    assert svg.count("<path") == page.locator("#page path").count()  # exactly what is shown
