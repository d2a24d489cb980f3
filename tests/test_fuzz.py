"""Property-based fuzzing (hypothesis) of every input a user hands over: each case ends in a
result or one GenseqError (through the CLI: exit 0, or exit 2 with one line), never another
exception or a hang.

Surfaces: text for `genseq write`; IAM-OnDB XML and transcription files; checkpoint and
config bytes; style files (SVG and JSON). (The web API's JSON bodies: tests/web/test_fuzz_api.py.)
Profiles (tests/conftest.py): `default` keeps `make test` short; HYPOTHESIS_PROFILE=slow runs
1,000 examples per surface; `pytest --hypothesis-show-statistics` prints the counts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genseq import limits
from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.model import SynthesisConfig, SynthesisNet
from genseq.hand.strokes import NormStats
from genseq.text.corpus import Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.train.checkpoint import save_model
from genseq.train.trainer import Trainer
from tests.conftest import text_train

HANG_S = 60  # one example taking longer is a hang
FIXTURES = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ]
)


def count(surface: str) -> None:
    """GENSEQ_FUZZ_LOG=FILE: one line per example run (counts of runs cut short by time)."""
    log = os.environ.get("GENSEQ_FUZZ_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(surface + "\n")


class Hang(BaseException):
    pass


@contextlib.contextmanager
def bounded(seconds: float = HANG_S) -> Iterator[None]:
    """Fail (not wait) when the body runs longer than `seconds`."""

    def alarm(signum, frame):
        raise Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def result_or_error(fn, *args, **kw):
    """fn's result, or None after one GenseqError; anything else fails the test."""
    with bounded():
        try:
            return fn(*args, **kw)
        except GenseqError as e:
            assert str(e) and "\n" not in str(e).strip(), repr(e)
            return None


def cli(capsys, argv: list[str]) -> int:
    """`genseq ARGV` in process: exit 0, or exit 2 with one `genseq: error:` line."""
    capsys.readouterr()
    with bounded():
        rc = main(argv)
    err = capsys.readouterr().err
    assert rc in (0, 2), (rc, err)
    if rc == 2:
        lines = [s for s in err.splitlines() if s.startswith("genseq: error:")]
        assert len(lines) == 1 and "Traceback" not in err, err
    return rc


# ---- models to load and write with -----------------------------------------------------------
IAM_CHARS = " !\"#&'()*+,-./0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    alphabet = Alphabet.from_texts([IAM_CHARS])
    net = SynthesisNet(
        SynthesisConfig(alphabet.size, hidden_size=6, num_layers=1, n_mixtures=2, n_window=1)
    )
    out = tmp_path_factory.mktemp("synth")
    stats = NormStats((8.0, 0.1), (40.0, 37.0), 1000, "fuzz")
    save_model(out, net, {"norm": stats.to_json(), "alphabet": alphabet.to_json()})
    return out


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory) -> Path:
    vocab = Vocab.build("the cat sat on a mat.", "char")
    out = tmp_path_factory.mktemp("text")
    save_model(
        out, TextModel(TextModelConfig(len(vocab), hidden_size=5)), {"vocab": vocab.to_json()}
    )
    return out


# ---- 1. text for `genseq write` --------------------------------------------------------------
SCRIPTS = st.sampled_from(
    [
        "é à ü ñ ç ø ß æ Œ",
        "“quoted” ‘single’ — – … « »",
        "שלום עולם",
        "مرحبا بالعالم",
        *"e\u0301\u0302\u0303\u0304 \u202eevil\u202c \u200b\u200d\ufeff 😀👍🏽👨‍👩‍👧".split(),
        "ﬁ ﬂ Ａ ² ①",
        *"\x00\x07\x1b[31m\r\x7f \t\n\n\n 日本語の文章 𝔘𝔫𝔦𝔠𝔬𝔡𝔢".split(),
    ]
)
WRITE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=IAM_CHARS + "\n", max_size=60),
    st.lists(st.one_of(SCRIPTS, st.text(alphabet=IAM_CHARS, max_size=8)), max_size=6).map("".join),
)
HUGE_TEXT = st.tuples(st.text(min_size=1, max_size=20), st.integers(5_001, 20_000)).map(
    lambda t: (t[0] * t[1])[:100_000]
)  # always over limits.MAX_WRITE_CHARS


@FIXTURES
@given(text=WRITE_TEXT, strict=st.booleans(), width=st.integers(-2, 80))
def test_fuzz_write_text(synth_dir, tmp_path, capsys, monkeypatch, text, strict, width):
    count("write_text")
    monkeypatch.setattr(limits, "STEPS_PER_CHAR", 3)  # short lines: the text is under test
    out = tmp_path / "w.svg"
    if text == "-":  # reads standard input
        return
    argv = [
        "write",
        "--model",
        str(synth_dir),
        "-o",
        str(out),
        "--seed",
        "0",
        "--width",
        str(width),
        *(["--strict"] if strict else []),
        "--",
        text,
    ]
    if cli(capsys, argv) == 0:
        assert out.stat().st_size > 0


@FIXTURES
@given(text=HUGE_TEXT)
def test_fuzz_write_huge_text_is_refused_at_once(synth_dir, tmp_path, capsys, text):
    count("write_huge_text_is_refused_at_once")
    from genseq.hand.page import write_page
    from genseq.hand.sample import load_hand_model

    m = load_hand_model(synth_dir)
    assert result_or_error(write_page, m, text, 40, 0.5, None, 0) is None


# ---- 2. IAM-OnDB XML and transcriptions -------------------------------------------------------
NUMBER = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            *"1e400 -1e309 nan inf".split(),
            "",
            " ",
            *"12abc 0x1F ٣ 1_000 99999999999999999999999999 -0 1e-400 +5 1.5.5".split(),
        ]
    ),
)
TAGS = st.sampled_from(
    [
        *"Point Stroke StrokeSet point Pt WhiteboardCaptureSession".split(),
        "Stroke xmlns='urn:x'",
        "!--",
        "?pi",
    ]
)


@st.composite
def stroke_xml(draw) -> bytes:
    strokes = []
    for _ in range(draw(st.integers(0, 4))):
        pts = []
        for _ in range(draw(st.integers(0, 6))):
            attrs = {k: draw(NUMBER) for k in draw(st.sets(st.sampled_from(["x", "y", "time"])))}
            tag = draw(st.one_of(st.just("Point"), TAGS))
            pts.append(f"<{tag} " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + "/>")
        stroke_tag = draw(st.one_of(st.just("Stroke"), TAGS))
        strokes.append(f"<{stroke_tag}>{''.join(pts)}</{stroke_tag.split()[0]}>")
    doc = "<WhiteboardCaptureSession><StrokeSet>" + "".join(strokes) + "</StrokeSet>"
    doc += "</WhiteboardCaptureSession>"
    data = doc.encode()
    how = draw(st.sampled_from(["whole", "truncated", "bytes", "prefix", "entities"]))
    if how == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "bytes":
        data = draw(st.binary(max_size=300))
    elif how == "prefix":
        data = draw(st.binary(max_size=20)) + data
    elif how == "entities":  # entity expansion ("billion laughs") must not explode
        ents = '<!ENTITY a "aaaaaaaaaa">' + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        data = f"<!DOCTYPE x [{ents}]><x>&h;</x>".encode()
    return data


CSR = st.one_of(
    st.binary(max_size=200),
    st.lists(st.text(max_size=30), max_size=5).map(
        lambda ls: ("OCR:\n\nx\n\nCSR:\n\n" + "\n".join(ls)).encode("utf-8", "surrogatepass")
    ),
)


@pytest.fixture(scope="module")
def iam_root(tmp_path_factory) -> Path:
    from tests.hand.conftest import build_iam

    root = tmp_path_factory.mktemp("iam") / "iamondb"
    build_iam(root, packed=False)
    return root


@FIXTURES
@given(xml=stroke_xml(), csr=CSR)
def test_fuzz_iamondb_files(iam_root, xml, csr):
    """One line's XML and its form's transcription file replaced by fuzzed bytes."""
    count("iamondb_files")
    from genseq.hand.data import build_cache
    from genseq.hand.iamondb import read_iamondb

    root = iam_root
    (root / "lineStrokes/a01/a01-000/a01-000u-01.xml").write_bytes(xml)
    (root / "ascii/a01/a01-000/a01-000u.txt").write_bytes(csr)
    db = result_or_error(read_iamondb, root, workers=1, progress=False)
    assert db is not None  # a damaged file is a counted problem, never fatal
    cache = result_or_error(build_cache, db)
    if cache is not None:
        assert np.isfinite(cache.points).all()


@FIXTURES
@given(xml=stroke_xml())
def test_fuzz_stroke_xml_parser(xml):
    count("stroke_xml_parser")
    from genseq.hand.iamondb import _parse_item

    name, parsed, err = result_or_error(_parse_item, ("x", xml))
    assert (parsed is None) != (err is None)


# ---- 3. checkpoint and config bytes ------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_json(draw, value):
    """`value` with one random change: a value replaced, a key dropped or added."""
    value = json.loads(json.dumps(value))
    paths = []

    def walk(v, path):
        paths.append(path)
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, (*path, k))
        elif isinstance(v, list):
            for i, x in enumerate(v[:5]):
                walk(x, (*path, i))

    walk(value, ())
    path = draw(st.sampled_from(paths))
    if not path:
        return draw(JSON)
    parent = value
    for k in path[:-1]:
        parent = parent[k]
    what = draw(st.sampled_from(["replace", "drop", "add", "number"]))
    if what == "drop":
        del parent[path[-1]]
    elif what == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(JSON)
    elif what == "number":
        parent[path[-1]] = draw(st.sampled_from([0, -1, 2**31, 10**9, 1e308, -0.5, True, "7"]))
    else:
        parent[path[-1]] = draw(JSON)
    return value


def _load_any(model_dir: Path):
    from genseq.hand.sample import load_hand_model
    from genseq.text.model import load_text_model
    from genseq.train.checkpoint import read_config

    kind = read_config(model_dir)["kind"]
    return (load_text_model if kind == "text" else load_hand_model)(model_dir)


@FIXTURES
@given(data=st.data(), which=st.sampled_from(["synth", "text"]))
def test_fuzz_config_json(synth_dir, text_dir, tmp_path_factory, data, which):
    count("config_json")
    src = synth_dir if which == "synth" else text_dir
    cfg = json.loads((src / "config.json").read_text())
    for name in ("alphabet",):  # JSON inside a string: mutate that too
        if name in cfg and data.draw(st.booleans()):
            cfg[name] = json.dumps(data.draw(mutated_json(json.loads(cfg[name]))))
    cfg = data.draw(mutated_json(cfg))
    d = tmp_path_factory.mktemp("cfg")
    (d / "model.safetensors").write_bytes((src / "model.safetensors").read_bytes())
    raw = json.dumps(cfg).encode() if data.draw(st.integers(0, 9)) else data.draw(st.binary())
    (d / "config.json").write_bytes(raw)
    result_or_error(_load_any, d)


def _safetensors_parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


@st.composite
def checkpoint_bytes(draw, valid: Path) -> bytes:
    header, body = _safetensors_parts(valid)
    how = draw(st.sampled_from(["header", "meta", "flip", "truncate", "random", "length"]))
    if how == "header":
        return _join(draw(mutated_json(header)), body)
    if how == "meta":
        meta = json.loads(header["__metadata__"]["genseq"])
        header["__metadata__"]["genseq"] = json.dumps(draw(mutated_json(meta)))
        return _join(header, body)
    raw = _join(header, body)
    if how == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "length":
        return struct.pack("<Q", draw(st.integers(0, 2**64 - 1))) + raw[8:]
    return draw(st.binary(max_size=200))


@FIXTURES
@given(data=st.data())
def test_fuzz_checkpoint_bytes(tiny_text_run, tmp_path_factory, capsys, monkeypatch, data):
    """A damaged checkpoint.safetensors: `text train --resume` continues or says why not."""
    count("checkpoint_bytes")
    monkeypatch.setattr(Trainer, "plot", lambda self: None)  # the loss curve is not under test
    corpus, run = tiny_text_run
    d = tmp_path_factory.mktemp("ck")
    for f in ("config.json", "model.safetensors"):
        (d / f).write_bytes((run / f).read_bytes())
    (d / "checkpoint.safetensors").write_bytes(
        data.draw(checkpoint_bytes(run / "checkpoint.safetensors"))
    )
    cli(
        capsys,
        text_train(corpus, d, "--resume --steps 3 --no-progress --threads 1"),
    )


@FIXTURES
@given(data=st.data())
def test_fuzz_model_weights_bytes(synth_dir, tmp_path_factory, data):
    count("model_weights_bytes")
    d = tmp_path_factory.mktemp("w")
    (d / "config.json").write_bytes((synth_dir / "config.json").read_bytes())
    (d / "model.safetensors").write_bytes(
        data.draw(checkpoint_bytes(synth_dir / "model.safetensors"))
    )
    result_or_error(_load_any, d)


# ---- 4. style files ---------------------------------------------------------------------------
NUM = st.one_of(
    st.integers(-(10**4), 10**4).map(str),
    st.floats(allow_nan=True).map(repr),
    st.sampled_from(["1e400", "-1e308", "1e308", ".5", "-", ".", "1e", "e5", "--1"]),
)
PATH_D = st.lists(st.one_of(st.sampled_from(list("MmLlHhVvCcSsQqTtZzAa")), NUM), max_size=30).map(
    " ".join
)
TRANSFORM = st.lists(
    st.tuples(
        st.sampled_from(["matrix", "translate", "scale", "rotate", "skewX", "x"]),
        st.lists(NUM, max_size=7),
    ).map(lambda t: f"{t[0]}({','.join(t[1])})"),
    max_size=3,
).map(" ".join)


@st.composite
def svg_element(draw, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(
            ["path", "polyline", "polygon", "line", "g", "title", "defs", "unknown"]
            if depth < 3
            else ["path", "line", "title"]
        )
    )
    tf = f' transform="{draw(TRANSFORM)}"' if draw(st.booleans()) else ""
    if kind == "path":
        return f'<path d="{draw(PATH_D)}"{tf}/>'
    if kind in ("polyline", "polygon"):
        return f'<{kind} points="{" ".join(draw(st.lists(NUM, max_size=12)))}"{tf}/>'
    if kind == "line":
        attrs = " ".join(
            f'{k}="{draw(NUM)}"' for k in draw(st.sets(st.sampled_from(["x1", "y1", "x2", "y2"])))
        )
        return f"<line {attrs}{tf}/>"
    if kind == "title":
        return f"<title>{draw(st.text(alphabet=IAM_CHARS, max_size=20))}</title>"
    kids = "".join(draw(st.lists(svg_element(depth + 1), max_size=3)))
    tag = {"g": "g", "defs": "defs", "unknown": "foo:bar xmlns:foo='urn:x'"}[kind]
    return f"<{tag}{tf}>{kids}</{tag.split()[0]}>"


@st.composite
def svg_file(draw) -> bytes:
    body = "".join(draw(st.lists(svg_element(), max_size=5)))
    doc = f'<svg xmlns="http://www.w3.org/2000/svg">{body}</svg>'.encode()
    how = draw(st.sampled_from(["whole", "whole", "truncated", "deep", "bytes"]))
    if how == "truncated":
        doc = doc[: draw(st.integers(0, len(doc)))]
    elif how == "deep":  # nesting deeper than Python's recursion limit
        n = draw(st.integers(500, 5000))
        doc = b"<svg>" + b"<g>" * n + b'<path d="M0 0 L5 5"/>' + b"</g>" * n + b"</svg>"
    elif how == "bytes":
        doc = draw(st.binary(max_size=200))
    return doc


COORD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.text(max_size=3),
    st.none(),
)
STYLE_JSON = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(st.text(max_size=20), JSON),
        "points": st.one_of(st.lists(st.lists(COORD, min_size=0, max_size=4), max_size=30), JSON),
        "strokes": st.one_of(
            st.lists(st.lists(st.lists(COORD, max_size=3), max_size=10), max_size=4), JSON
        ),
        "norm": st.one_of(
            st.fixed_dictionaries(
                {"mean": st.lists(COORD, max_size=3), "std": st.lists(COORD, max_size=3)}
            ),
            JSON,
        ),
    },
)


def load_style_file(path: Path, stats: NormStats, text: str | None):
    """A style file read for a model with `stats`: its .points (normalised) and .text."""
    from types import SimpleNamespace

    from genseq.hand.styles import Style

    style = Style.from_file(path, text)
    return SimpleNamespace(points=style.offsets_for(stats), text=style.text)


@FIXTURES
@given(doc=svg_file(), text=st.one_of(st.none(), st.text(max_size=10)))
def test_fuzz_style_svg(tmp_path_factory, doc, text):
    count("style_svg")
    p = tmp_path_factory.mktemp("svg") / "style.svg"
    p.write_bytes(doc)
    st_ = result_or_error(load_style_file, p, NormStats((8.0, 0.1), (40.0, 37.0)), text)
    if st_ is not None:
        assert np.isfinite(st_.points).all() and st_.text.strip()


@FIXTURES
@given(d=st.one_of(STYLE_JSON, JSON), text=st.one_of(st.none(), st.text(max_size=10)))
def test_fuzz_style_json(tmp_path_factory, d, text):
    count("style_json")
    p = tmp_path_factory.mktemp("json") / "style.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    st_ = result_or_error(load_style_file, p, NormStats((8.0, 0.1), (40.0, 37.0)), text)
    if st_ is not None:
        assert np.isfinite(st_.points).all() and st_.text.strip()
        assert not math.isnan(float(st_.points.sum()))
