"""Fixtures for the web app: a tiny synthesis model (random weights, the full alphabet of
the shipped model's kind), built in the test so no test needs the big shipped model."""

from __future__ import annotations

import os
import socket
import string
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi", reason="the web app needs the [web] extra (fastapi)")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

# starlette >= 1.x prefers `httpx2` for its TestClient; `httpx` still works
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

from genseq.hand.alphabet import Alphabet  # noqa: E402
from genseq.hand.model import SynthesisConfig, SynthesisNet  # noqa: E402
from genseq.hand.strokes import NormStats  # noqa: E402
from genseq.train.checkpoint import save_model  # noqa: E402
from genseq.web.app import create_app  # noqa: E402
from genseq.web.limits import Limits  # noqa: E402

ALPHABET = Alphabet.from_texts([" !\"'(),-.:;?" + string.digits + string.ascii_letters])
# the window moves ~exp(-4) = 0.018 characters a step: slow enough that a random net primed
# with a long style line (§5.5) has not read past the new text before it writes it
KAPPA_BIAS = -4.0
NORM = NormStats((8.0, -0.1), (42.0, 37.0), 1000, "tiny test model")


def make_tiny_synth(out: Path, seed: int = 0) -> Path:
    """A run directory with a 2 x 8 synthesis net of random weights; its slow window
    (KAPPA_BIAS) makes a line of n characters take up to 40 n steps (the sampling cap)."""
    torch.manual_seed(seed)
    cfg = SynthesisConfig(
        alphabet_size=ALPHABET.size,
        hidden_size=8,
        num_layers=2,
        n_mixtures=3,
        n_window=2,
        kappa_bias=KAPPA_BIAS,
    )
    net = SynthesisNet(cfg).eval()
    save_model(out, net, {"norm": NORM.to_json(), "alphabet": ALPHABET.to_json()})
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_tiny_synth(tmp_path_factory.mktemp("tiny-synth"))


@pytest.fixture
def make_client(tiny_model_dir):
    """make_client(legibility=None, **limits) -> a TestClient on an app with those limits
    (and that legibility scorer)."""
    clients = []

    def make(legibility=None, **kw) -> TestClient:
        app = create_app(tiny_model_dir, Limits(**kw), legibility=legibility or False)
        c = TestClient(app, raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(tiny_model_dir):
    """live_server(**limits) -> the URL of the app on uvicorn (a thread, a free loopback
    port), with legibility scores where a recognizer is installed; GENSEQ_WEB_MODEL=<run dir
    or name> serves that model instead of the tiny one."""
    uvicorn = pytest.importorskip("uvicorn", reason="the web app needs the [web] extra")
    servers = []

    def start(**kw) -> str:
        model = os.environ.get("GENSEQ_WEB_MODEL") or tiny_model_dir
        app = create_app(model, Limits(**kw), legibility=True)
        port = _free_port()
        cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        srv = uvicorn.Server(cfg)
        th = threading.Thread(target=srv.run, daemon=True)
        th.start()
        servers.append((srv, th))
        start.app = app  # type: ignore[attr-defined]  # the last app started
        deadline = time.monotonic() + 60
        while not srv.started:
            assert time.monotonic() < deadline and th.is_alive(), "the server did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for srv, th in servers:
        srv.should_exit = True
        th.join(10)
