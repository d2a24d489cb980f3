"""The web app (`create_app`): the page, the JSON API and the stream, on the Python API
(`genseq.load`, `genseq.write`, `genseq.styles`, `Style.from_strokes`).

    POST /api/write         text -> the page (strokes per line + SVG)
    POST /api/write/stream  the same, its pen points streamed as they are sampled (NDJSON)
    GET  /api/styles        the built-in styles with previews
    POST /api/styles        your line (strokes + text) -> a style (and its style file)
    POST /api/export        strokes -> SVG, plotter SVG or G-code
    GET  /api/info          the model, its alphabet, the limits
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

import genseq
from genseq.api import load
from genseq.errors import GenseqError
from genseq.hand.sample import HandModel
from genseq.web import drawing, errors
from genseq.web.job import Job
from genseq.web.legibility import Scorer, scorer
from genseq.web.limits import Deadline, GenerationQueue, Limits
from genseq.web.middleware import BodyLimit
from genseq.web.schemas import ExportRequest, Info, StyleLine, StyleOut, WriteRequest, WriteResponse
from genseq.web.streaming import stream, until_done

STATIC = Path(__file__).resolve().parent / "static"
STREAM_DOC = {
    "content": {"application/x-ndjson": {}},
    "description": "one JSON event per line: queued, start, points (pen offsets per line as "
    "they are sampled), then done (a WriteResponse) or error",
}
ERRORS = {
    413: {"description": "the request body is over the size limit"},
    422: {"description": "invalid input, with a message saying what is wrong"},
    503: {"description": "the generation queue is full or the request ran past its time cap"},
}


def _describe(lim: Limits) -> str:
    return (
        "Handwriting synthesis (Graves 2013, §5) on your machine. Limits: "
        f"{lim.max_chars:,} characters per request, {lim.max_line_chars} per line, style lines "
        f"of at most {lim.max_style_points:,} points and {lim.max_style_chars} characters, "
        f"request bodies of {lim.max_body_bytes:,} bytes (413), {lim.workers} page(s) written "
        f"at a time with {lim.queue} waiting (more: 503 with Retry-After), "
        f"{lim.time_limit:g} s per request, waiting included (503)."
    )


def _check_text(req: WriteRequest, model: HandModel, lim: Limits) -> None:
    n = len(req.text)
    if not req.text.strip():
        raise GenseqError("nothing to write: the text is empty")
    if n > lim.max_chars:
        raise GenseqError(
            f"the text has {n:,} characters; this server writes at most {lim.max_chars:,} "
            "per request"
        )
    if req.width > lim.max_line_chars:
        raise GenseqError(f"width: at most {lim.max_line_chars} characters per line")
    assert model.alphabet is not None
    bad = model.alphabet.missing(req.text.replace("\n", " ").replace("\r", " ").replace("\t", " "))
    if bad:
        raise GenseqError(
            f"the model cannot write {', '.join(repr(c) for c in bad)}; it writes: "
            f"{''.join(model.alphabet.symbols)}"
        )


def create_app(
    model: str | Path | HandModel = "synth",
    limits: Limits | None = None,
    legibility: Scorer | None | bool = True,
    model_name: str | None = None,
) -> FastAPI:
    """The app for a synthesis model (a shipped name, a run directory or a loaded model).
    legibility: a scorer, True to use the recognizer where one is installed, False for none."""
    lim = limits or Limits()
    m = model if isinstance(model, HandModel) else load(model)
    if not isinstance(m, HandModel) or m.alphabet is None:
        raise GenseqError(f"{model} is not a synthesis model: it cannot write text")
    name = model_name or (str(model) if not isinstance(model, HandModel) else "model")
    w = Writer(m, lim, scorer() if legibility is True else (legibility or None))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        w.queue.shutdown()

    app = FastAPI(
        title="genseq", version=genseq.__version__, description=_describe(lim), lifespan=lifespan
    )
    app.add_middleware(BodyLimit, max_bytes=lim.max_body_bytes)
    errors.install(app)
    app.state.queue, app.state.limits = w.queue, lim

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info", response_model=Info)
    async def info() -> Info:
        return Info(
            model=name,
            alphabet="".join(m.alphabet.symbols),  # type: ignore[union-attr]
            limits={k: float(v) for k, v in vars(lim).items()},
            legibility=w.score is not None,
            version=genseq.__version__,
        )

    _writing_routes(app, w)
    _style_routes(app, w)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class Writer:
    """The model, the limits, the legibility scorer and the generation queue of an app."""

    def __init__(self, model: HandModel, limits: Limits, score: Scorer | None):
        self.model, self.limits, self.score = model, limits, score
        self.queue = GenerationQueue(limits.workers, limits.queue)

    def job(self, req: WriteRequest) -> Job:
        """A checked request -> its job (else a GenseqError: 422)."""
        _check_text(req, self.model, self.limits)
        style = drawing.choose(req.style, self.model, self.limits)
        return Job(
            self.model,
            req.text,
            style,
            req.bias,
            req.width,
            req.seed,
            req.color,
            req.stroke_width,
            Deadline(self.limits.time_limit),
        )


def _writing_routes(app: FastAPI, w: Writer) -> None:
    @app.post("/api/write", response_model=WriteResponse, responses=ERRORS)
    async def write(req: WriteRequest, request: Request) -> dict:
        """Write the text; answers when the whole page is written."""
        job = w.job(req)
        w.queue.reserve()
        return await until_done(w.queue, job, w.score, request)

    @app.post("/api/write/stream", responses={200: STREAM_DOC, **ERRORS})
    async def write_stream(req: WriteRequest) -> StreamingResponse:
        """Write the text, streaming its pen points while they are sampled (see
        `genseq.web.job` for the events). Closing the connection stops the writing."""
        job = w.job(req)
        return stream(w.queue, job, w.score, w.queue.reserve())


def _style_routes(app: FastAPI, w: Writer) -> None:
    builtins = drawing.builtin_previews()

    @app.get("/api/styles", response_model=list[StyleOut])
    async def list_styles() -> list[StyleOut]:
        """The built-in styles: pass `id` as a write request's `style`."""
        return builtins

    @app.post("/api/styles", response_model=StyleOut, responses=ERRORS)
    async def make_style(line: StyleLine) -> StyleOut:
        """Your own line (strokes + what it reads) -> a style: send its `file` as a write
        request's `style`, or save it for `genseq write --style-from FILE`."""
        return drawing.user_style_out(line, w.model, w.limits)

    @app.post("/api/export", responses={200: {"content": {"image/svg+xml": {}}}, **ERRORS})
    async def export(req: ExportRequest) -> Response:
        """A page's strokes -> an SVG, a plotter SVG or G-code file."""
        return drawing.export(req, w.limits)
