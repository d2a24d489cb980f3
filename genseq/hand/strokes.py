"""Pen trajectories <-> Graves' point representation (Graves 2013, §4).

Each point is x_t = (Δx, Δy, e): the pen offset from the previous point and e = 1 when the
pen lifts after this point (end of stroke). Conventions used throughout genseq.hand:
- y points UP (the board records y down; we negate it), so plots are right-side-up;
- the first point of a line has offset (0, 0): offsets are relative to the line's first point,
  and `to_absolute` puts that point at the origin;
- pen-up moves are not points: the offset of the first point of a stroke is the jump from
  the last point of the previous stroke (as in the paper).
Offsets are normalised to mean 0 / std 1 per coordinate with statistics from the training
lines only (`NormStats`, stored with every cache and model); e is left as 0/1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from genseq.hand.clean import CleanCounts, PaperClean, paper_clean

# --- lines -> offsets -----------------------------------------------------------------------


def to_offsets(xy: np.ndarray, eos: np.ndarray) -> np.ndarray:
    """Absolute board points (N, 2) (y down) + end-of-stroke flags (N,) -> (N, 3) float32
    (Δx, Δy up, e) with the first offset (0, 0)."""
    xy = np.asarray(xy, np.float64)
    out = np.zeros((len(xy), 3), np.float32)
    if len(xy):
        d = np.diff(xy, axis=0)
        out[1:, 0] = d[:, 0]
        out[1:, 1] = -d[:, 1]
        out[:, 2] = np.asarray(eos, np.float32)
        out[-1, 2] = 1.0  # a line always ends with the pen up
    return out


def to_absolute(points: np.ndarray) -> np.ndarray:
    """(N, 3) offsets (Δx, Δy, e) -> (N, 3) absolute (x, y, e), first point at its own offset
    from the origin (i.e. the origin for lines made by `to_offsets`)."""
    p = np.asarray(points, np.float64)
    out = np.empty((len(p), 3), np.float64)
    out[:, :2] = np.cumsum(p[:, :2], axis=0)
    out[:, 2] = p[:, 2]
    return out


def split_strokes(absolute: np.ndarray, eos_threshold: float = 0.5) -> list[np.ndarray]:
    """(N, 3) absolute points (x, y, e) -> list of (n, 2) strokes; a stroke ends after a point
    whose e > eos_threshold."""
    a = np.asarray(absolute, np.float64)
    if len(a) == 0:
        return []
    ends = np.flatnonzero(a[:, 2] > eos_threshold) + 1
    return [s[:, :2] for s in np.split(a, ends) if len(s)]


def offsets_to_strokes(points: np.ndarray) -> list[np.ndarray]:
    """Offsets (Δx, Δy, e), e.g. a generated sample, -> absolute pen strokes for rendering."""
    return split_strokes(to_absolute(points))


# --- normalisation (§4: "normalised to mean 0, std 1 over the training set") ----------------
@dataclass(frozen=True)
class NormStats:
    mean: tuple[float, float]  # of (Δx, Δy) in device units
    std: tuple[float, float]
    n_points: int = 0  # how many offsets the statistics were computed on
    source: str = ""  # which lines, e.g. "train = trainset+testset_t+testset_f"

    @classmethod
    def fit(cls, lines: Iterable[np.ndarray], source: str = "") -> NormStats:
        """Mean/std of (Δx, Δy) over every point of `lines` ((T, 3) raw offsets), first
        (0, 0) points included; float64 accumulation."""
        s = np.zeros(2)
        s2 = np.zeros(2)
        n = 0
        for p in lines:
            d = np.asarray(p[:, :2], np.float64)
            s += d.sum(0)
            s2 += (d * d).sum(0)
            n += len(d)
        if n == 0:
            raise ValueError("NormStats.fit: no points")
        mean = s / n
        std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
        std = np.where(std > 0, std, 1.0)
        return cls((float(mean[0]), float(mean[1])), (float(std[0]), float(std[1])), n, source)

    def normalise(self, points: np.ndarray) -> np.ndarray:
        """Raw offsets (T, 3) -> normalised float32 copy (e untouched). Works on (..., 3)."""
        out = np.array(points, np.float32, copy=True)
        out[..., :2] = (out[..., :2] - np.float32(self.mean)) / np.float32(self.std)
        return out

    def denormalise(self, points: np.ndarray) -> np.ndarray:
        """Inverse of `normalise` (for rendering generated samples)."""
        out = np.array(points, np.float64, copy=True)
        out[..., :2] = out[..., :2] * np.asarray(self.std) + np.asarray(self.mean)
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, s: str) -> NormStats:
        d = json.loads(s)
        return cls(
            tuple(d["mean"]), tuple(d["std"]), int(d.get("n_points", 0)), d.get("source", "")
        )


# --- cleaning -------------------------------------------------------------------------------
def _dedupe(xy: np.ndarray, eos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop a point equal to its predecessor within the same stroke (the pen did not move)."""
    same = np.zeros(len(xy), bool)
    same[1:] = np.all(xy[1:] == xy[:-1], axis=1) & (eos[:-1] == 0)
    keep = ~same
    # a dropped point that ended a stroke passes its end flag to the kept predecessor
    eos = eos.copy()
    for i in np.flatnonzero(same & (eos == 1)):
        eos[i - 1] = 1
    return xy[keep], eos[keep]


# opt-in extra cleaning steps (NOT in the paper): name -> f(xy, eos) -> (xy, eos), board units.
# Add smoothing / slant correction / resampling here; their names are stored in the cache.
EXTRA_CLEANING: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "dedupe": _dedupe,
}


@dataclass(frozen=True)
class CleanConfig:
    """Which lines to keep and how to clean them. Defaults are faithful to the paper: lines are
    used as recorded; only broken ones are dropped (the paper does not say it drops any)."""

    min_points: int = 20  # fewer points than this: a fragment, not a line
    min_points_per_char: float = 3.0  # far too few points for its transcription
    max_jump: float = 4000.0  # board units; any larger offset is a glitch (max real: 3035)
    max_pen_down_jump: float = 1500.0  # inside a stroke a larger step is a glitch (max real: 925)
    require_text: bool = False  # drop lines without a transcription (1 in the paper's sets;
    # kept by default so prediction (§4) sees all 10,741 training lines; HandDataset skips them)
    extra: tuple[str, ...] = field(default_factory=tuple)  # names from EXTRA_CLEANING, in order
    paper: PaperClean | None = None  # §4's correction of recording errors (genseq.hand.clean)

    def __post_init__(self) -> None:
        unknown = [e for e in self.extra if e not in EXTRA_CLEANING]
        if unknown:
            from genseq.errors import GenseqError

            raise GenseqError(
                f"unknown cleaning step(s) {', '.join(unknown)}: have {', '.join(EXTRA_CLEANING)}"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["extra"] = list(self.extra)
        return d

    @property
    def preprocessing(self) -> str:
        """`paper` (§4's corrections) or `raw` (lines as recorded), + any extra steps."""
        return "+".join(("paper" if self.paper else "raw", *self.extra))


# drop reasons
TOO_FEW_POINTS = "too few points"
TOO_FEW_PER_CHAR = "too few points per character"
ABSURD_JUMP = "absurd jump"
PEN_DOWN_JUMP = "absurd jump with the pen down"
NO_TEXT = "no transcription"


def clean_line(
    xy: np.ndarray,
    eos: np.ndarray,
    text: str | None,
    cfg: CleanConfig,
    time: np.ndarray | None = None,
    counts: CleanCounts | None = None,
) -> tuple[np.ndarray | None, str | None]:
    """Board points -> (raw offsets (T, 3), None), or (None, reason) if the line is dropped.
    cfg.paper needs the points' `time`; what it did is added to `counts`."""
    if cfg.require_text and not text:
        return None, NO_TEXT
    if cfg.paper is not None:
        if time is None:
            raise ValueError("the paper's cleaning needs the points' timestamps")
        xy, eos, done = paper_clean(xy, eos, time, cfg.paper)
        if counts is not None:
            counts.add(done)
    for name in cfg.extra:
        xy, eos = EXTRA_CLEANING[name](xy, eos)
    if len(xy) < cfg.min_points:
        return None, TOO_FEW_POINTS
    if text and len(xy) < cfg.min_points_per_char * len(text):
        return None, TOO_FEW_PER_CHAR
    off = to_offsets(xy, eos)
    step = np.abs(off[:, :2]).max(1)
    if step.max() > cfg.max_jump:
        return None, ABSURD_JUMP
    pen_down = np.zeros(len(off), bool)
    pen_down[1:] = off[:-1, 2] == 0  # the step into point t was made with the pen down
    if pen_down.any() and step[pen_down].max() > cfg.max_pen_down_jump:
        return None, PEN_DOWN_JUMP
    return off, None
