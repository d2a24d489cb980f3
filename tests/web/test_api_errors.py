"""Every message the web app (genseq/web/app.py, drawing.py) and `genseq serve`
(genseq/web/server.py) can refuse a request with, triggered through the API or the CLI and
checked word for word: a 422 (or exit 2) with one line saying what is wrong."""

from __future__ import annotations

import sys

import pytest

from genseq.api import styles as builtin_styles
from genseq.cli import main as cli
from genseq.errors import GenseqError
from genseq.hand.model import PredictionConfig, PredictionNet
from genseq.train.checkpoint import save_model
from genseq.web.app import create_app
from tests.web.conftest import NORM
from tests.web.test_api import refused as refused_with

WAVE = [[[x * 4.0, 20.0 + 12.0 * ((x // 3) % 2)] for x in range(30)], [[10.0, 5.0], [12.0, 40.0]]]


def refused(resp, *fragments: str) -> str:
    """A 422 whose detail is one line holding every fragment."""
    return refused_with(resp, 422, *fragments)


# ---- genseq/web/app.py ---------------------------------------------------------------------


def test_text_over_the_servers_limit(make_client):
    c = make_client(max_chars=5)
    for url in ("/api/write", "/api/write/stream"):
        refused(
            c.post(url, json={"text": "abcdef"}),
            "the text has 6 characters; this server writes at most 5 per request",
        )


def test_width_over_the_line_limit(make_client):
    c = make_client(max_line_chars=12)
    refused(
        c.post("/api/write", json={"text": "hi", "width": 13}),
        "width: at most 12 characters per line",
    )


def test_characters_the_model_cannot_write(client):
    d = refused(client.post("/api/write", json={"text": "a\tb ~"}), "the model cannot write '~'")
    assert "it writes: " in d and "\\t" not in d  # tabs and newlines are spaces, not refused


def test_an_app_needs_a_synthesis_model(tmp_path):
    net = PredictionNet(PredictionConfig(hidden_size=4, num_layers=1, n_mixtures=2))
    run = tmp_path / "predict"
    save_model(run, net.eval(), {"norm": NORM.to_json()})
    with pytest.raises(GenseqError) as e:
        create_app(run, legibility=False)
    assert str(e.value) == f"{run} is not a synthesis model: it cannot write text"


# ---- genseq/web/drawing.py -----------------------------------------------------------------


def test_a_style_line_over_the_point_limit(make_client):
    c = make_client(max_style_points=31)
    line = {"text": "abc", "strokes": WAVE}
    want = (
        "the style line has 32 points; this server takes at most 31 (draw one line, or simplify it)"
    )
    refused(c.post("/api/styles", json=line), want)
    refused(c.post("/api/write", json={"text": "x", "style": line}), want)


def test_a_style_text_over_the_character_limit(make_client):
    c = make_client(max_style_chars=3)
    refused(
        c.post("/api/styles", json={"text": "abcd", "strokes": WAVE}),
        "the style's text has 4 characters; at most 3",
    )


def test_a_style_text_the_model_cannot_read(client):
    line = {"text": "a ~ b ^", "strokes": WAVE}
    for r in (
        client.post("/api/styles", json=line),
        client.post("/api/write", json={"text": "x", "style": line}),
    ):
        refused(r, "the style's text has characters the model cannot read: '~', '^'")


def test_no_such_built_in_style(client):
    n = len(builtin_styles())
    assert n > 0
    for k in (n, 10**6):
        refused(
            client.post("/api/write", json={"text": "x", "style": k}),
            f"style: there is no built-in style {k}; there are {n} (0 to {n - 1})",
        )


def test_no_built_in_styles_installed(client, monkeypatch):
    import genseq.web.drawing as drawing

    monkeypatch.setattr(drawing, "builtin_styles", lambda: [])
    r = client.post("/api/write", json={"text": "x", "style": 0})
    assert refused(r, "style: there is no built-in style 0; there are 0").endswith("are 0")


def test_export_over_the_point_limit(make_client):
    c = make_client(max_export_points=31)
    refused(
        c.post("/api/export", json={"strokes": WAVE, "format": "svg"}),
        "the page has 32 points; at most 31",
    )


@pytest.mark.parametrize("strokes", [[], [[]], [[], []]])
def test_export_of_an_empty_page(client, strokes):
    refused(
        client.post("/api/export", json={"strokes": strokes, "format": "gcode"}),
        "strokes: the page has no points",
    )


# ---- genseq/web/server.py (`genseq serve`) -------------------------------------------------


def _serve_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert cli(["serve", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genseq: error: ") and "\n" not in err
    return err


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_serve_port_out_of_range(tiny_model_dir, capsys, port):
    err = _serve_error(capsys, ["--model", str(tiny_model_dir), "--port", port])
    assert f"--port must be 1 to 65535, got {port}" in err


def test_serve_on_a_host_that_does_not_resolve(tiny_model_dir, capsys, monkeypatch):
    import socket

    def no_such_host(*a, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    err = _serve_error(capsys, ["--model", str(tiny_model_dir), "--host", "nowhere.invalid"])
    assert "cannot serve on host 'nowhere.invalid' (Name or service not known)" in err


def test_serve_without_uvicorn_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # not installed
    err = _serve_error(capsys, [])
    assert err.endswith(
        "the web app needs the [web] extra (uvicorn is missing): pip install 'genseq[web]'"
    )


@pytest.mark.parametrize("fmt", ["svg", "plotter", "gcode"])
@pytest.mark.parametrize("far", [1.0000001e9, -1e300, 1.7976931348623157e308])
def test_export_of_coordinates_out_of_range(client, fmt, far):
    """Found by tests/web/test_fuzz_api.py: a page spanning more than a float holds made the
    SVG a ZeroDivisionError (500) and the plotter files inf / nan coordinates."""
    strokes = [[[0.0, 1e300], [0.0, far]], [[far, 0.0]]]
    r = client.post("/api/export", json={"strokes": strokes, "format": fmt})
    refused(r, "strokes: the page has coordinates beyond ±1e+09")
    ok = [[[0.0, 1e9], [-1e9, -1e9]]]  # at the limit: a file
    r = client.post("/api/export", json={"strokes": ok, "format": fmt})
    assert r.status_code == 200 and "nan" not in r.text.lower() and "inf" not in r.text.lower()
