"""`genseq serve` and the load script, on the tiny model."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from genseq.cli import main as cli
from genseq.web import loadtest


def test_serve_prints_the_url_and_runs_the_app(tiny_model_dir, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    ran = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    argv = ["serve", "--model", str(tiny_model_dir), "--port", "8123", "--queue", "3"]
    assert cli(argv) == 0
    assert ran["host"] == "127.0.0.1" and ran["port"] == 8123
    assert ran["app"].state.limits.queue == 3
    assert "http://127.0.0.1:8123/" in capsys.readouterr().err


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tiny_model_dir, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert cli(["serve", "--model", str(tiny_model_dir), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genseq: error: cannot serve on") and "\\n" not in err


def test_percentiles_are_nearest_rank():
    v = [float(i) for i in range(1, 21)]  # 1..20
    assert loadtest.pct(v, 50) == 10.0 and loadtest.pct(v, 95) == 19.0
    assert loadtest.pct(v, 100) == 20.0 and loadtest.pct([3.0], 95) == 3.0


def test_a_burst_beyond_the_queue_gets_503s_and_no_errors(live_server, capsys):
    url = live_server(workers=1, queue=1)
    argv = ["--url", url, "-n", "6", "--concurrency", "6", "--text", "ab", "--timeout", "300"]
    assert loadtest.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 6 and out["errors"] == 0
    assert out["statuses"].get("200", 0) >= 2  # the one writing and the one waiting
    assert out["statuses"].get("200", 0) + out["statuses"].get("503", 0) == 6
    assert loadtest.main([*argv, "--stream", "-n", "2", "--concurrency", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statuses"] == {"200": 2} and out["first_p50_s"] <= out["p50_s"]


def test_without_the_web_extra_serve_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # not installed
    assert cli(["serve"]) == 2
    assert "pip install 'genseq[web]'" in capsys.readouterr().err


def test_the_command_line_does_not_need_the_web_extra():
    code = (
        "import sys; sys.modules['fastapi'] = sys.modules['starlette'] = None; "
        "from genseq.cli import build_parser; build_parser().parse_args(['serve', '--help'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "--port" in r.stdout, r.stderr


@pytest.mark.parametrize("path", ["/api/write", "/api/write/stream"])
def test_a_client_that_goes_away_frees_its_place(live_server, monkeypatch, path):
    """A page nobody waits for any more is stopped: its place in the queue comes back long
    before its time cap."""
    import genseq.web.streaming as web_streaming

    def endless(job, score, emit=None):  # a page that takes until it is stopped
        while True:
            job.deadline.check()
            time.sleep(0.01)

    monkeypatch.setattr(web_streaming, "run", endless)
    url = live_server(time_limit=120)
    queue = live_server.app.state.queue
    port = int(url.rsplit(":", 1)[1])
    body = json.dumps({"text": "hello"}).encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while queue.pending == 0:
            assert time.monotonic() < deadline, "the request never started"
            time.sleep(0.05)
    t0 = time.monotonic()
    while queue.pending:
        assert time.monotonic() - t0 < 10, "the abandoned page still holds its place"
        time.sleep(0.05)
