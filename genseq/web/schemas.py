"""The JSON the web API takes and gives (pydantic models; FastAPI documents them in its
OpenAPI page). Coordinates are pen points [x, y] with y DOWN, like a screen and like
`genseq write --style-from` files; the limits that depend on the server's settings (text
length, points) are checked by the routes against `genseq.web.limits.Limits`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, FiniteFloat, Tag

Point = tuple[FiniteFloat, FiniteFloat]
Stroke = list[Point]
COLOR = r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]{1,20})$"


class StyleLine(BaseModel):
    """A line of the user's own handwriting and what it reads (§5.5 primed sampling): the
    format of a style file (`genseq write --style-from FILE`, `Style.from_file`)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="what the line reads", examples=["the quick brown fox"])
    strokes: list[Stroke] = Field(
        description="pen strokes, each a list of [x, y] points (any units, y down)",
        examples=[[[[0, 20], [5, 0], [10, 20]], [[2, 12], [8, 12]]]],
    )


def _style_kind(v: Any) -> str:
    return "line" if isinstance(v, dict) else "builtin"


StyleChoice = Annotated[
    Annotated[int, Tag("builtin")] | Annotated[StyleLine, Tag("line")],
    Discriminator(_style_kind),
]
UNION_TAGS = ("builtin", "line")  # left out of error locations (`genseq.web.errors`)


class WriteRequest(BaseModel):
    """Text to write in handwriting."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        description="the text; newlines start new lines, blank lines make paragraphs, long "
        "lines are word-wrapped at `width` characters",
        examples=["Hello from genseq,\nwritten by a network."],
    )
    style: StyleChoice | None = Field(
        None,
        description="a built-in style's number (GET /api/styles) or your own line "
        "(a `StyleLine`, e.g. from POST /api/styles); none: the network's own hand",
    )
    bias: float = Field(
        0.5, ge=0.0, le=10.0, description="legibility (eqs 61-62): 0 varied, higher neater"
    )
    width: int = Field(40, ge=1, description="characters per line (word wrap)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="the same page again")
    color: str = Field("black", pattern=COLOR, description="ink: a CSS colour name or #rgb")
    stroke_width: float = Field(2.0, gt=0.0, le=50.0, description="pen width in pixels")


class LineOut(BaseModel):
    text: str = Field(description="the line as wrapped")
    strokes: list[list[list[float]]] = Field(
        description="its pen strokes in page coordinates (board units, y down), in pen order"
    )
    legibility: float | None = Field(
        None, description="1 - the recognizer's character error rate, when one is installed"
    )


class WriteResponse(BaseModel):
    lines: list[LineOut] = Field(description="one per wrapped line (blank lines have none)")
    svg: str = Field(description="the page as an SVG document")
    points: int = Field(description="pen points written")
    seconds: float = Field(description="time spent writing (queue wait excluded)")


class ExportRequest(BaseModel):
    """A page (e.g. the strokes of a WriteResponse, all lines together) to turn into a file."""

    model_config = ConfigDict(extra="forbid")
    strokes: list[Stroke] = Field(description="pen strokes, [x, y] points, y down")
    format: Literal["svg", "plotter", "gcode"] = Field(
        description="svg: the page; plotter: one single-stroke SVG path in mm with pen-up "
        "moves (vpype, AxiDraw); gcode: G-code for a pen plotter"
    )
    color: str = Field("black", pattern=COLOR)
    stroke_width: float = Field(2.0, gt=0.0, le=50.0)


class StyleOut(BaseModel):
    id: int | None = Field(description="the number to pass as `style` (None: your own line)")
    text: str = Field(description="what the style's line reads")
    source: str
    points: int = Field(description="pen points of the line")
    preview_svg: str = Field(description="the line drawn as SVG")
    file: StyleLine | None = Field(
        None,
        description="your line as a style file: save it as JSON for `genseq write "
        "--style-from FILE` or `genseq.Style.from_file`, or send it as `style`",
    )


class Info(BaseModel):
    model: str
    alphabet: str = Field(description="every character the model can write")
    limits: dict[str, float]
    legibility: bool = Field(description="whether lines get a legibility score")
    version: str
