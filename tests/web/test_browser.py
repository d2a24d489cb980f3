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

import pytest

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


def test_type_write_draw_and_write_like_me(server, page, tmp_path):
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".style").count() >= 2  # "network" + the built-in previews
    page.fill("#text", "hello there\nsecond line")
    page.fill("#seed", "3")
    page.click("#write")
    # lines appear while they are written: both have strokes before (or when) it is done
    page.wait_for_function(
        """() => ['0', '1'].every(k =>
             document.querySelectorAll(`#page g[data-line="${k}"] path`).length > 0)""",
        timeout=WAIT_MS,
    )
    page.wait_for_selector("#page[data-state=done]", timeout=WAIT_MS)
    assert _paths(page, 0) > 0 and _paths(page, 1) > 0
    assert "Written:" in page.inner_text("#status")
    assert page.locator(".downloads button[data-format=gcode]").is_enabled()

    # write like me: a wavy line on the pad, what it says, use it
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    assert box is not None
    x0, y0 = box["x"] + 20, box["y"] + box["height"] * 0.5
    for word in range(3):
        page.mouse.move(x0 + word * 90, y0)
        page.mouse.down()
        for i in range(1, 25):
            page.mouse.move(x0 + word * 90 + i * 3, y0 - 18 * ((i // 3) % 2) + 6 * (i % 3))
        page.mouse.up()
    page.fill("#pad-text", "one two six")
    page.click("#pad-use")
    page.wait_for_selector("#my-style[aria-checked=true]", timeout=30_000)
    assert page.locator("#pad-save").is_enabled()

    page.fill("#text", "in my hand")
    page.click("#write")
    page.wait_for_selector("#page[data-state=done]", timeout=WAIT_MS)
    assert _paths(page, 0) > 0
    shot = Path(os.environ.get("GENSEQ_WEB_SHOT") or tmp_path / "web.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
