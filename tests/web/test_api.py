"""The web API (FastAPI's TestClient, the tiny model of conftest.py): the happy paths, every
limit, and bad input of every kind answered with a status and a sentence, never a crash."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from genseq.cli import main as cli
from genseq.hand.styles import Style

WAVE = [[[x * 4.0, 20.0 + 12.0 * ((x // 3) % 2)] for x in range(30)], [[10.0, 5.0], [12.0, 40.0]]]


def ndjson(resp) -> list[dict]:
    return [json.loads(line) for line in resp.iter_lines() if line]


def refused(resp, status: int, *words: str) -> str:
    """The response has this status and a one-sentence detail naming `words`."""
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    for w in words:
        assert w in detail, detail
    return detail


# ---- happy paths -------------------------------------------------------------------------


def test_write_returns_each_line_its_strokes_and_the_svg(client):
    r = client.post("/api/write", json={"text": "hi\n\nyo", "seed": 1, "color": "#123456"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [line["text"] for line in page["lines"]] == ["hi", "", "yo"]
    assert page["lines"][0]["strokes"] and page["lines"][2]["strokes"]
    assert page["lines"][1]["strokes"] == []  # a paragraph break
    assert page["points"] == sum(len(s) for line in page["lines"] for s in line["strokes"])
    assert page["svg"].startswith("<svg") and 'stroke="#123456"' in page["svg"]
    first, last = ([y for s in page["lines"][k]["strokes"] for _, y in s] for k in (0, 2))
    assert np.median(last) > np.median(first)  # y grows down the page
    again = client.post("/api/write", json={"text": "hi\n\nyo", "seed": 1}).json()
    assert again["lines"] == page["lines"]  # a seed gives the same page


def test_stream_sends_points_while_writing_then_the_page(client):
    with client.stream("POST", "/api/write/stream", json={"text": "ab\ncd", "seed": 2}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        events = ndjson(r)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["lines"] == ["ab", "cd"]
    assert kinds[-1] == "done" and "points" in kinds[1:-1]
    got = {"0": 0, "1": 0}
    for e in events:
        for k, pts in e.get("lines", {}).items() if e["event"] == "points" else ():
            got[k] += len(pts)
    done = events[-1]
    for k, line in enumerate(done["lines"]):  # every point of the page was streamed
        assert got[str(k)] == sum(len(s) for s in line["strokes"]) > 0


def test_styles_list_the_built_ins_with_previews(client):
    r = client.get("/api/styles")
    assert r.status_code == 200
    styles = r.json()
    assert [s["id"] for s in styles] == list(range(len(styles))) and styles
    assert all(s["preview_svg"].startswith("<svg") and s["text"] for s in styles)
    assert client.post("/api/write", json={"text": "ok", "style": 0, "seed": 1}).status_code == 200


def test_a_drawn_line_becomes_a_style_file_the_cli_and_api_accept(client, tiny_model_dir, tmp_path):
    r = client.post("/api/styles", json={"text": "my  line ", "strokes": WAVE})
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["id"] is None and made["text"] == "my line" and made["points"] == 32
    f = tmp_path / "my-style.json"
    f.write_text(json.dumps(made["file"]))
    st = Style.from_file(f)
    assert st.text == "my line" and [s.tolist() for s in st.strokes] == WAVE
    out = tmp_path / "page.svg"
    argv = ["write", "hey", "--model", str(tiny_model_dir), "--style-from", str(f)]
    assert cli([*argv, "-o", str(out), "--seed", "1"]) == 0 and out.stat().st_size > 0
    r = client.post("/api/write", json={"text": "hey", "style": made["file"], "seed": 1})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("fmt", "media", "start"),
    [
        ("svg", "image/svg+xml", "<svg"),
        ("plotter", "image/svg+xml", "<svg"),
        ("gcode", "text/", "G21"),
    ],
)
def test_export_gives_files(client, fmt, media, start):
    r = client.post("/api/export", json={"strokes": WAVE, "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media) and r.text.startswith(start)
    assert "attachment" in r.headers["content-disposition"]


def test_the_page_its_files_and_the_openapi_description(client):
    assert "Write like me" in client.get("/").text
    for f in ("app.js", "pad.js", "app.css"):
        assert client.get(f"/static/{f}").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/api/write", "/api/write/stream", "/api/styles", "/api/export"} <= set(spec["paths"])
    assert {"get", "post"} <= set(spec["paths"]["/api/styles"])
    assert "503" in spec["paths"]["/api/write"]["post"]["responses"]
    assert "characters per request" in spec["info"]["description"]
    assert client.get("/docs").status_code == 200
    info = client.get("/api/info").json()
    assert "a" in info["alphabet"] and info["limits"]["max_chars"] == 2000


# ---- limits ------------------------------------------------------------------------------


def test_text_length_and_line_width(make_client):
    c = make_client(max_chars=10, max_line_chars=20)
    refused(c.post("/api/write", json={"text": "x" * 11}), 422, "11 characters", "at most 10")
    refused(c.post("/api/write", json={"text": "x", "width": 21}), 422, "width", "20")
    refused(c.post("/api/write", json={"text": "x", "width": 0}), 422, "width")


def test_style_points_and_text(make_client):
    c = make_client(max_style_points=10, max_style_chars=5)
    line = {"text": "abc", "strokes": WAVE}
    refused(c.post("/api/styles", json=line), 422, "32 points", "at most 10")
    refused(c.post("/api/write", json={"text": "x", "style": line}), 422, "32 points")
    short = {"text": "abcdef", "strokes": [WAVE[1]]}
    refused(c.post("/api/styles", json=short), 422, "6 characters", "at most 5")


def test_a_huge_stroke_list_is_refused_by_size_or_count(make_client):
    c = make_client(max_body_bytes=200_000)
    big = {"text": "big", "strokes": [[[float(i), float(i % 7)] for i in range(40_000)]]}
    refused(c.post("/api/styles", json=big), 413, "200,000 bytes")
    ok_size = {"text": "big", "strokes": [[[float(i), float(i % 7)] for i in range(6000)]]}
    refused(c.post("/api/styles", json=ok_size), 422, "6,000 points", "5,000")


def test_body_size_with_and_without_content_length(make_client):
    c = make_client(max_body_bytes=1000)
    refused(c.post("/api/write", json={"text": "x" * 2000}), 413, "1,000 bytes")
    body = json.dumps({"text": "y" * 2000}).encode()
    chunks = (body[i : i + 100] for i in range(0, len(body), 100))  # chunked: no length
    r = c.post("/api/write", content=chunks, headers={"content-type": "application/json"})
    refused(r, 413, "1,000 bytes")
    assert c.post("/api/export", json={"strokes": WAVE[1:], "format": "svg"}).status_code == 200


def test_a_full_queue_answers_503_at_once(make_client):
    c = make_client(workers=1, queue=2)
    q = c.app.state.queue
    for _ in range(3):  # one writing, two waiting
        q.reserve()
    try:
        r = c.post("/api/write", json={"text": "x"})
        refused(r, 503, "busy", "try again")
        assert r.headers["retry-after"]
        refused(c.post("/api/write/stream", json={"text": "x"}), 503, "busy")
    finally:
        for _ in range(3):
            q.release()
    assert c.post("/api/write", json={"text": "x", "seed": 1}).status_code == 200


def test_the_time_cap_stops_a_page(make_client):
    c = make_client(time_limit=1e-9)
    refused(c.post("/api/write", json={"text": "slow"}), 503, "limit of", "per request")
    with c.stream("POST", "/api/write/stream", json={"text": "slow"}) as r:
        events = ndjson(r)
    assert events[-1]["event"] == "error" and events[-1]["status"] == 503
    assert c.app.state.queue.pending == 0  # its place was given back


def test_export_points(make_client):
    c = make_client(max_export_points=5)
    refused(c.post("/api/export", json={"strokes": WAVE, "format": "gcode"}), 422, "at most 5")


# ---- bad input ---------------------------------------------------------------------------


def test_unsupported_characters_are_named(client):
    d = refused(client.post("/api/write", json={"text": "naïve €5"}), 422, "'ï'", "'€'")
    assert "it writes:" in d
    line = {"text": "ça", "strokes": WAVE}
    refused(client.post("/api/styles", json=line), 422, "'ç'")


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t"])
def test_empty_text(client, text):
    refused(client.post("/api/write", json={"text": text}), 422, "empty")
    refused(client.post("/api/write/stream", json={"text": text}), 422, "empty")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"text": ', ["not valid JSON"]),
        ("[1, 2]", ["JSON object"]),
        ("", ["needs a JSON body"]),
        ('"hello"', ["JSON object"]),
        ('{"txt": "hi"}', ["text", "required"]),
        ('{"text": "hi", "bias": "neat"}', ["bias", "number"]),
        ('{"text": "hi", "bias": -1}', ["bias", "greater than or equal to 0"]),
        ('{"text": "hi", "bias": NaN}', ["bias"]),
        ('{"text": "hi", "color": "red;x"}', ["color"]),
        ('{"text": "hi", "style": 99}', ["no built-in style 99"]),
        ('{"text": "hi", "style": "two"}', ["style", "integer"]),
        ('{"text": "hi", "style": {"text": "a"}}', ["style.strokes", "required"]),
        (
            '{"text": "hi", "style": {"text": "a", "strokes": [[[1, "x"]]]}}',
            ["style.strokes[0][0][1]"],
        ),
        ('{"text": "hi", "style": {"text": "a", "strokes": [[[1, 1e999]]]}}', ["finite"]),
        ('{"text": "hi", "seed": -4}', ["seed"]),
        ('{"text": "hi", "extra": 1}', ["unknown field 'extra'"]),
        ('{"text": 5}', ["text", "string"]),
    ],
)
def test_malformed_requests_get_a_sentence(client, body, words):
    r = client.post("/api/write", content=body, headers={"content-type": "application/json"})
    refused(r, 422, *words)


def test_a_style_needs_height_and_text(client):
    flat = {"text": "flat", "strokes": [[[0, 5], [10, 5], [20, 5]]]}
    refused(client.post("/api/styles", json=flat), 422, "no height")
    refused(client.post("/api/styles", json={"text": " ", "strokes": WAVE}), 422, "no text")
    refused(client.post("/api/styles", json={"text": "x", "strokes": []}), 422, "no points")


def test_no_body_crashes_the_server(client):
    """Bodies of every shape get a 4xx answer, and the server answers normally after."""
    bodies = [
        b"\x00\xff\xfe",
        b"{" * 5000,
        b"[" * 100_000,
        json.dumps({"text": "hi", "style": {"text": "a", "strokes": [[]] * 1000}}).encode(),
        json.dumps({"text": "hi", "style": {"text": "a", "strokes": [[[1, 2, 3]]]}}).encode(),
        json.dumps({"text": "hi", "width": 10**30}).encode(),
        json.dumps({"text": "hi", "seed": 10**30}).encode(),
        json.dumps({"strokes": "no", "format": "pdf"}).encode(),
        json.dumps({"text": "\ud800"}).encode(),
    ]
    for url in ("/api/write", "/api/write/stream", "/api/styles", "/api/export"):
        for b in bodies:
            r = client.post(url, content=b, headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500, (url, b[:40], r.status_code, r.text[:200])
            assert isinstance(r.json()["detail"], str)
    assert client.get("/api/info").status_code == 200
    assert client.post("/api/write", json={"text": "ok", "seed": 1}).status_code == 200


def test_a_closed_stream_stops_its_writing():
    """When the client goes away (sending fails), the job's stop flag is set and its
    future cancelled, so the sampler stops at its next step."""
    from concurrent.futures import Future

    from genseq.web.limits import Deadline
    from genseq.web.streaming import _Stream

    async def events():
        while True:
            yield b'{"event":"points"}\n'

    async def gone(msg):
        if msg["type"] == "http.response.body":
            raise OSError("the client closed the connection")

    async def receive():
        await asyncio.sleep(3600)

    deadline, fut = Deadline(60), Future()
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}, "method": "POST"}
    with pytest.raises(Exception):  # noqa: B017 - whatever starlette makes of it
        asyncio.run(_Stream(events(), deadline, fut)(scope, receive, gone))
    assert deadline.stop.is_set() and fut.cancelled()
