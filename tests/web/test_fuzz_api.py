"""Property-based fuzzing (hypothesis) of the web API's JSON bodies: any Unicode text, wrong
types, missing and extra fields, huge and non-finite numbers, bodies that are not objects.
Every request ends in a 2xx answer or a 4xx whose JSON detail is one line, never a 500 or a
hang; a streamed page ends in `done` or in an `error` event of a 4xx status.

The tiny random model of conftest.py answers, under small limits so that a page is quick.
Profiles (tests/conftest.py): 50 examples per endpoint and kind of body by default,
HYPOTHESIS_PROFILE=slow for 1,000; GENSEQ_FUZZ_LOG=FILE counts the examples run (one line
each, with its status)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_fuzz import bounded, count
from tests.web.conftest import ALPHABET

EXAMPLES = max(50, settings.default.max_examples)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
LIMITS = dict(max_chars=24, max_line_chars=40, max_style_chars=20, max_style_points=400,
              max_export_points=2000, time_limit=120.0)  # fmt: skip

# ---- values ---------------------------------------------------------------------------------
HUGE = st.sampled_from([10**18, 2**63, -(2**63) - 1, 10**30, 10**400, -(10**400), 1e308, -1e308])
NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    HUGE,
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12))
ANY_JSON = st.recursive(
    SCALAR,
    lambda c: st.one_of(
        st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.one_of(
    st.text(max_size=40),  # any Unicode (lone surrogates included)
    st.text(alphabet="abcdefgh ijkl\n.,'", min_size=1, max_size=30),  # mostly writable
)
COORD = st.one_of(
    st.floats(-1e4, 1e4),
    st.integers(-10, 10),
    st.floats(-1e300, 1e300),
    st.floats(allow_nan=True, allow_infinity=True),
    HUGE,
)
POINT = st.one_of(st.lists(COORD, min_size=2, max_size=2), ANY_JSON)
PAIR = st.lists(st.floats(-100, 100), min_size=2, max_size=2)
STROKES = st.one_of(
    st.lists(st.lists(PAIR, max_size=30), min_size=1, max_size=3),  # a drawing
    st.lists(st.lists(st.lists(COORD, min_size=2, max_size=2), max_size=12), max_size=4),
    st.lists(st.lists(POINT, max_size=6), max_size=3),  # wrong types inside
)
STYLE_LINE = st.fixed_dictionaries({"text": TEXT, "strokes": STROKES})
COLOR = st.one_of(
    st.sampled_from(["black", "#123", "#a0b1c2", "red;x", "", "#12345g"]), st.text(max_size=25)
)


def typed(required: dict, optional: dict) -> st.SearchStrategy:
    """A JSON object with the required fields and some of the optional ones, each a value of
    its field's kind (edge values and out-of-range ones included)."""
    return st.fixed_dictionaries(required, optional=optional)


def chaos(required: dict, optional: dict) -> st.SearchStrategy:
    """The same fields, each maybe left out or any JSON value, maybe unknown fields too; or
    a body that is any JSON value at all."""
    names = [*required, *optional]
    values = {k: st.one_of(v, ANY_JSON) for k, v in {**required, **optional}.items()}

    def build(keep: list[bool], vals: dict, extra: dict) -> dict:
        return {**{k: vals[k] for k, kept in zip(names, keep, strict=True) if kept}, **extra}

    obj = st.builds(
        build,
        st.lists(st.booleans(), min_size=len(names), max_size=len(names)),
        st.fixed_dictionaries(values),
        st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=2),
    )
    return st.one_of(obj, ANY_JSON)


NUMBER = st.one_of(st.floats(0, 60), NUMBERS)
WRITE = (
    {"text": TEXT},
    {
        "style": st.one_of(st.none(), st.integers(-3, 8), HUGE, STYLE_LINE),
        "bias": st.one_of(st.floats(0, 10), NUMBERS),
        "width": st.one_of(st.integers(-2, 40), HUGE),
        "seed": st.one_of(st.none(), st.integers(-5, 2**64), HUGE),
        "color": COLOR,
        "stroke_width": NUMBER,
    },
)
EXPORT = (
    {"strokes": STROKES, "format": st.sampled_from(["svg", "plotter", "gcode", "pdf", "SVG"])},
    {"color": COLOR, "stroke_width": NUMBER},
)
STYLE = ({"text": TEXT, "strokes": STROKES}, {})
# within the schema (so the app itself gets them): writable text, drawings of any finite size
WRITABLE = st.text(alphabet=ALPHABET.symbols + ("\n", "\t", "é", "~"), min_size=1, max_size=30)
FINITE = st.one_of(st.floats(-1e300, 1e300), st.integers(-(2**70), 2**70))
NEAR_DRAWING = st.lists(
    st.lists(st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=2), min_size=2, max_size=40),
    min_size=1,
    max_size=4,
)
FAR_DRAWING = st.lists(  # coordinates up to ±1e300
    st.lists(st.lists(FINITE, min_size=2, max_size=2), max_size=20), min_size=1, max_size=3
)
DRAWING = st.one_of(NEAR_DRAWING, FAR_DRAWING)
GOOD_COLOR = st.sampled_from(["black", "red", "#123", "#a0b1c2", "Papayawhip"])
GOOD_WIDTH = st.one_of(st.floats(1e-300, 50), st.just(50.0))
VALID_WRITE = (
    {"text": WRITABLE},
    {
        "style": st.one_of(
            st.none(),
            st.integers(0, 4),
            st.fixed_dictionaries({"text": WRITABLE, "strokes": DRAWING}),
        ),
        "bias": st.floats(0, 10),
        "width": st.integers(1, 40),
        "seed": st.integers(0, 2**63 - 1),
        "color": GOOD_COLOR,
        "stroke_width": GOOD_WIDTH,
    },
)
VALID = {
    "/api/write": VALID_WRITE,
    "/api/styles": ({"text": WRITABLE, "strokes": DRAWING}, {}),
    "/api/export": (
        {"strokes": DRAWING, "format": st.sampled_from(["svg", "plotter", "gcode"])},
        {"color": GOOD_COLOR, "stroke_width": GOOD_WIDTH},
    ),
}
TYPED = {
    "/api/write": WRITE,
    "/api/styles": STYLE,
    "/api/export": EXPORT,
}


# ---- the check ------------------------------------------------------------------------------


def encode(b) -> bytes:
    """JSON as a browser or script might send it (NaN / Infinity tokens included; a lone
    surrogate as its \\u escape)."""
    return json.dumps(b, allow_nan=True).encode()


def one_line_4xx(status: int, detail) -> None:
    assert 400 <= status < 500, (status, detail)
    assert isinstance(detail, str) and detail and "\n" not in detail, detail


def answered(client, url: str, b) -> int:
    """POST the body; the answer is a 2xx or a one-line 4xx (a stream: ends in done or in a
    4xx error event) -> the status."""
    headers = {"content-type": "application/json"}
    with bounded(), client.stream("POST", url, content=encode(b), headers=headers) as r:
        status = r.status_code
        raw = r.read()
    count(f"{url} {status}")
    assert status < 500, (url, b, status, raw[:300])
    if status >= 300:
        one_line_4xx(status, json.loads(raw)["detail"])
    elif url.endswith("/stream"):
        events = [json.loads(s) for s in raw.splitlines() if s.strip()]
        last = events[-1]
        assert last["event"] in ("done", "error"), last
        if last["event"] == "error":
            one_line_4xx(last["status"], last["detail"])
    return status


@pytest.fixture(scope="module")
def fuzz_client(tiny_model_dir):
    from fastapi.testclient import TestClient

    from genseq.web.app import create_app
    from genseq.web.limits import Limits

    app = create_app(tiny_model_dir, Limits(**LIMITS), legibility=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
        # after everything: the server still answers normally
        assert c.get("/api/info").status_code == 200
        ok = c.post("/api/write", json={"text": "ab", "seed": 1})
        assert ok.status_code == 200, ok.text
        assert c.app.state.queue.pending == 0  # every place was given back


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("url", list(TYPED))
@pytest.mark.parametrize("kind", ["valid", "typed", "chaos"])
def test_fuzz_api(fuzz_client, url, kind, data):
    """valid: in the schema, edge values; typed: the right JSON types, any values; chaos:
    fields missing, of any type, unknown ones, or a body that is not an object."""
    fields = VALID[url] if kind == "valid" else TYPED[url]
    make = chaos if kind == "chaos" else typed
    if url == "/api/write" and data.draw(st.booleans(), label="stream"):
        url = "/api/write/stream"
    answered(fuzz_client, url, data.draw(make(*fields), label="body"))


def test_the_strategies_reach_the_edges():
    """The encoder sends what the strategies make, non-finite numbers and huge ints included."""
    assert json.loads(encode({"a": math.inf, "b": 10**400}))["b"] == 10**400
    assert b"NaN" in encode([math.nan]) and b"\\ud800" in encode("\ud800")
