"""IAM-OnDB reader: the official archives -> pen-down lines paired with their transcriptions.

Layout (as published; each archive may also be given unpacked as its directory tree):
    DIR/lineStrokes-all.tar.gz  or  DIR/lineStrokes/<a01>/<a01-000>/<a01-000u-01>.xml
    DIR/ascii-all.tar.gz        or  DIR/ascii/<a01>/<a01-000>/<a01-000u>.txt
    DIR/splits/{trainset,testset_v,testset_t,testset_f}.txt   one form id per line
Line `<form>-NN.xml` is transcribed by the NN-th non-empty line of the `CSR:` section of
`<form>.txt`. The split lists name forms exactly as the file names do (`a01-000u`, `a02-000`,
after stripping whitespace), verified on the real data: 5,364 / 1,438 / 1,518 / 3,859 lines;
16 lines belong to forms in no list. Graves (2013, §4): training = trainset + testset_t +
testset_f (10,741 lines), validation = testset_v (1,438 lines).

Damaged input is counted in `IamOnDB.problems` (reason -> ids), never fatal; a wrong path is a
GenseqError. XML files are parsed in a process pool while the archive is read sequentially.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tarfile
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genseq.errors import GenseqError

SPLITS = ("trainset", "testset_v", "testset_t", "testset_f")
# the paper's sets (§4): official split lists they are made of
PAPER_SETS = {"train": ("trainset", "testset_t", "testset_f"), "valid": ("testset_v",)}

STROKES_ARCHIVE, STROKES_DIR = "lineStrokes-all.tar.gz", "lineStrokes"
ASCII_ARCHIVE, ASCII_DIR = "ascii-all.tar.gz", "ascii"

# problem reasons (keys of IamOnDB.problems)
MALFORMED = "malformed XML"
NO_POINTS = "no pen-down points"
NO_TEXT = "no transcription"
TRUNCATED = "archive unreadable/truncated"
BAD_TEXT_FILE = "unreadable transcription file"


@dataclass
class Line:
    """One handwritten line: its pen-down points in recording order, in device units."""

    id: str  # "a01-000u-01"
    text: str | None  # the CSR transcription, None if missing
    xy: np.ndarray  # (N, 2) float32 board coordinates (x right, y DOWN as recorded)
    eos: np.ndarray  # (N,) uint8, 1 on the last point of each stroke
    time: np.ndarray  # (N,) float64 seconds
    split: str | None = None  # official list naming its form, None if in no list

    @property
    def form(self) -> str:
        return self.id.rsplit("-", 1)[0]

    @property
    def n_strokes(self) -> int:
        return int(self.eos.sum())


@dataclass
class IamOnDB:
    lines: list[Line]  # every parsed XML line (with or without a transcription), sorted by id
    problems: dict[str, list[str]] = field(default_factory=dict)  # reason -> ids / messages
    split_forms: dict[str, list[str]] = field(default_factory=dict)  # split -> form ids

    def split_sizes(self) -> dict[str, int]:
        """Parsed lines per official split (+ "none" for lines in no list)."""
        c = Counter(ln.split or "none" for ln in self.lines)
        return {s: c.get(s, 0) for s in (*SPLITS, "none")}

    def paper_sizes(self) -> dict[str, int]:
        sizes = self.split_sizes()
        return {k: sum(sizes[s] for s in v) for k, v in PAPER_SETS.items()}

    def summary(self) -> str:
        sizes, paper = self.split_sizes(), self.paper_sizes()
        out = [f"IAM-OnDB: {len(self.lines)} XML lines parsed"]
        out.append("  official split: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        out.append("  paper sets: " + ", ".join(f"{k} {v}" for k, v in paper.items()))
        for reason, ids in sorted(self.problems.items()):
            shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            out.append(f"  problem: {reason}: {len(ids)} ({shown})")
        return "\n".join(out)


# --- locating the official files -----------------------------------------------------------
def _source(root: Path, archive: str, tree: str) -> Path:
    """The unpacked tree `root/tree` if present, else `root/archive`."""
    if (root / tree).is_dir():
        return root / tree
    if (root / archive).is_file():
        return root / archive
    raise GenseqError(f"{root} has neither {archive} nor an unpacked {tree}/ folder")


def _check_root(root: str | Path) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GenseqError(f"IAM-OnDB folder not found: {root}")
    return root


def _probe(src: Path) -> None:
    """A GenseqError if `src` is a file that does not even start like a tar archive."""
    if src.is_dir():
        return
    try:
        with tarfile.open(src, "r:*") as tar:
            tar.next()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise GenseqError(f"{src} is not a readable tar archive ({e})") from None


def _members(src: Path, suffix: str, problems: dict[str, list[str]]) -> Iterator[tuple[str, bytes]]:
    """(file stem, bytes) of every `*suffix` file in an archive or tree. Never raises on a
    damaged archive: what could be read is yielded and the damage is recorded in `problems`."""
    if src.is_dir():
        for p in sorted(src.rglob("*" + suffix)):
            yield p.name[: -len(suffix)], p.read_bytes()
        return
    n = 0
    try:
        with tarfile.open(src, "r:*") as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(suffix):
                    f = tar.extractfile(m)
                    if f is not None:
                        data = f.read()
                        yield m.name.rsplit("/", 1)[-1][: -len(suffix)], data
                        n += 1
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        problems.setdefault(TRUNCATED, []).append(f"{src.name}: {e} (after {n} files)")


# --- parsing ------------------------------------------------------------------------------
def parse_strokes_xml(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`<StrokeSet><Stroke><Point x= y= time=/>...` -> (xy, eos, time); pen-down points only
    (the file holds nothing else). Raises ValueError on malformed XML / attributes."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ValueError(f"{MALFORMED}: {e}") from None
    xs: list[str] = []
    ys: list[str] = []
    ts: list[str] = []
    ends: list[int] = []
    try:
        for stroke in root.iter("Stroke"):
            for p in stroke.iter("Point"):
                a = p.attrib
                xs.append(a["x"])
                ys.append(a["y"])
                ts.append(a.get("time", "nan"))
            if not ends or ends[-1] != len(xs):  # an empty stroke adds nothing
                ends.append(len(xs))
        xy = np.stack([np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)], 1)
        t = np.array(ts, dtype=np.float64)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{MALFORMED}: bad Point attribute {e}") from None
    eos = np.zeros(len(xs), np.uint8)
    if ends and ends[-1] > 0:
        eos[np.array(ends) - 1] = 1
    return xy.astype(np.float32), eos, t


def _parse_item(item: tuple[str, bytes]) -> tuple[str, tuple | None, str | None]:
    name, data = item
    try:
        return name, parse_strokes_xml(data), None
    except ValueError as e:
        return name, None, str(e)


def parse_csr(data: bytes) -> list[str]:
    """The non-empty lines of the `CSR:` section of a form's ascii file (stripped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    _, sep, csr = text.partition("CSR:")
    if not sep:
        raise ValueError("no CSR: section")
    return [s.strip() for s in csr.splitlines() if s.strip()]


def read_splits(split_dir: str | Path) -> dict[str, list[str]]:
    split_dir = Path(split_dir)
    out = {}
    for s in SPLITS:
        p = split_dir / f"{s}.txt"
        if not p.is_file():
            raise GenseqError(f"split list not found: {p}")
        out[s] = [w.strip() for w in p.read_text().splitlines() if w.strip()]
    return out


# --- the reader ---------------------------------------------------------------------------
def read_iamondb(
    root: str | Path,
    *,
    splits: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
) -> IamOnDB:
    """Parse the official IAM-OnDB files under `root` (see the module docstring).

    workers: processes parsing XML (<= 1: in this process). progress: tqdm bar on stderr."""
    root = _check_root(root)
    strokes_src = _source(root, STROKES_ARCHIVE, STROKES_DIR)
    ascii_src = _source(root, ASCII_ARCHIVE, ASCII_DIR)
    _probe(strokes_src)
    _probe(ascii_src)
    split_forms = read_splits(splits if splits is not None else root / "splits")
    form_split: dict[str, str] = {}
    for s, forms in split_forms.items():
        for f in forms:
            form_split.setdefault(f, s)
    problems: dict[str, list[str]] = {}
    csr = _read_transcriptions(ascii_src, problems)
    lines = _read_lines(strokes_src, csr, form_split, problems, workers, progress)
    lines.sort(key=lambda ln: ln.id)
    for ids in problems.values():
        ids.sort()
    return IamOnDB(lines, problems, split_forms)


def _read_transcriptions(src: Path, problems: dict[str, list[str]]) -> dict[str, list[str]]:
    """Form id -> its CSR lines, from every transcription file (bad ones: a problem each)."""
    csr: dict[str, list[str]] = {}
    for form, data in _members(src, ".txt", problems):
        try:
            csr[form] = parse_csr(data)
        except ValueError as e:
            problems.setdefault(BAD_TEXT_FILE, []).append(f"{form}: {e}")
    return csr


def _read_lines(
    src: Path,
    csr: dict[str, list[str]],
    form_split: dict[str, str],
    problems: dict[str, list[str]],
    workers: int,
    progress: bool,
) -> list[Line]:
    """Every stroke file parsed (in `workers` processes) into a Line with its transcription
    and split; files without points or that do not parse are problems, not lines."""
    bar = tqdm(
        desc="IAM-OnDB",
        unit="line",
        disable=not progress,
        file=sys.stderr,
        leave=False,
        total=sum(1 for _ in src.rglob("*.xml")) if src.is_dir() else None,
    )
    items = _members(src, ".xml", problems)
    lines: list[Line] = []
    with _pool(workers) as pool:
        results = pool.imap_unordered(_parse_item, items, 16) if pool else map(_parse_item, items)
        for lid, parsed, err in results:
            bar.update()
            if err is not None:
                problems.setdefault(err.split(":")[0], []).append(lid)
                continue
            xy, eos, t = parsed
            if len(xy) == 0:
                problems.setdefault(NO_POINTS, []).append(lid)
                continue
            form, _, num = lid.rpartition("-")
            text = _line_text(csr.get(form, []), num)
            if text is None:
                problems.setdefault(NO_TEXT, []).append(lid)
            lines.append(Line(lid, text, xy, eos, t, form_split.get(form)))
    bar.close()
    return lines


def _line_text(texts: list[str], num: str) -> str | None:
    """Line `num` (1-based, as in the line id's last part) of a form's transcription."""
    n = int(num) if num.isdigit() else 0
    return texts[n - 1] if 1 <= n <= len(texts) else None


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _pool(workers: int):
    if workers <= 1:
        return _NoPool()
    return mp.get_context().Pool(workers)


def default_iam_dir() -> Path | None:
    """$GENSEQ_DATA/iamondb, or None when GENSEQ_DATA is not set."""
    env = os.environ.get("GENSEQ_DATA")
    return Path(env) / "iamondb" if env else None
