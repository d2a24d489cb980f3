"""The prepared handwriting cache: every cleaned IAM-OnDB line, normalisation statistics
from the training lines, and what was dropped and why (`genseq hand prepare` writes it).

Cache (one compressed .npz file, no pickle, loads with np.load(allow_pickle=False)):
    points  (P, 3) int16    raw offsets (Δx, Δy, e) of every kept line, concatenated (float32
                            if not integral, e.g. after opt-in smoothing); board units, y up,
                            first point of each line (0, 0) (see genseq.hand.strokes)
    index   (L + 1,) int64  line i is points[index[i]:index[i + 1]]
    ids, texts, splits      (L,) unicode  line id, CSR transcription ("" if none), split list
    meta    () unicode      JSON: version, norm stats (training lines only), full alphabet,
                            cleaning config, dropped lines by reason, reader problems
HandCache.load returns points as float32.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.clean import CleanCounts
from genseq.hand.iamondb import PAPER_SETS, SPLITS, IamOnDB
from genseq.hand.strokes import CleanConfig, NormStats, clean_line

CACHE_VERSION = 1
NOT_IN_SPLIT = "form in no split list"


# --- the cache --------------------------------------------------------------------------------
@dataclass
class HandCache:
    ids: list[str]
    texts: list[str]
    splits: list[str]  # official split list of each line
    points: np.ndarray  # (P, 3) float32 raw offsets
    index: np.ndarray  # (L + 1,) int64
    stats: NormStats  # from the training lines only
    alphabet: Alphabet  # "full": every character of the kept transcriptions
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, i: int) -> np.ndarray:
        """Raw offsets (T, 3) of line i (a view: do not modify)."""
        return self.points[self.index[i] : self.index[i + 1]]

    def position(self, line_id: str) -> int:
        """Index of line `line_id` (e.g. "a01-000u-01")."""
        pos = self.__dict__.get("_pos")
        if pos is None:
            pos = self.__dict__["_pos"] = {k: i for i, k in enumerate(self.ids)}
        if line_id not in pos:
            raise GenseqError(f"no line {line_id!r} in the cache (ids look like {self.ids[0]!r})")
        return pos[line_id]

    def lengths(self) -> np.ndarray:
        return np.diff(self.index)

    @property
    def preprocessing(self) -> dict:
        """What a model trained on this cache records: "raw" or "paper" (§4) + the settings."""
        return {"name": self.meta.get("preprocessing", "raw"), **self.meta.get("clean", {})}

    def select(self, split: str | tuple[str, ...]) -> np.ndarray:
        """Line positions of a set: "train"/"valid" (paper §4), "all", or official list name(s)."""
        names = resolve_split(split)
        return np.flatnonzero(np.isin(np.asarray(self.splits), names)).astype(np.int64)

    # --- disk ---
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise GenseqError(f"cache file must end in .npz: {path}")
        if not path.parent.is_dir():
            raise GenseqError(f"output folder not found: {path.parent}")
        meta = dict(
            self.meta,
            stats=json.loads(self.stats.to_json()),
            alphabet=json.loads(self.alphabet.to_json()),
        )
        points = self.points
        small = points.astype(np.int16)
        if np.array_equal(small, points):  # board units are integers: exact and 2x smaller
            points = small
        _write_npz(
            path,
            points=points,
            index=self.index,
            ids=np.array(self.ids, dtype=str),
            texts=np.array(self.texts, dtype=str),
            splits=np.array(self.splits, dtype=str),
            meta=np.array(json.dumps(meta)),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> HandCache:
        path = Path(path)
        if not path.is_file():
            raise GenseqError(f"handwriting cache not found: {path} (make it: genseq hand prepare)")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("points", "index", "ids", "texts", "splits", "meta")}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise GenseqError(f"{path} is not a genseq handwriting cache ({e})") from None
        meta = json.loads(str(arrays["meta"]))
        if meta.get("version") != CACHE_VERSION:
            raise GenseqError(
                f"{path}: cache version {meta.get('version')}, expected "
                f"{CACHE_VERSION}: run genseq hand prepare again"
            )
        return cls(
            ids=arrays["ids"].tolist(),
            texts=arrays["texts"].tolist(),
            splits=arrays["splits"].tolist(),
            points=arrays["points"].astype(np.float32),
            index=arrays["index"].astype(np.int64),
            stats=NormStats.from_json(json.dumps(meta.pop("stats"))),
            alphabet=Alphabet.from_json(json.dumps(meta.pop("alphabet"))),
            meta=meta,
        )


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, at zlib level 1 (5x faster to write, about as fast to read),
    written to a temporary name first so a crash never leaves half a cache."""
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, a in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)
    tmp.replace(path)


def resolve_split(split: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(split, (tuple, list)):
        out = tuple(s for x in split for s in resolve_split(x))
    elif split in PAPER_SETS:
        out = PAPER_SETS[split]
    elif split == "all":
        out = SPLITS
    elif split in SPLITS:
        out = (split,)
    else:
        raise GenseqError(
            f"unknown split {split!r}: use train, valid, all or one of {', '.join(SPLITS)}"
        )
    return out


def build_cache(db: IamOnDB, cfg: CleanConfig | None = None, train: str = "train") -> HandCache:
    """Clean every line of the official split lists (strokes.clean_line) and fit the
    normalisation on the `train` set only (§4)."""
    cfg = cfg or CleanConfig()
    kept: list[tuple[str, str, str, np.ndarray]] = []
    dropped: dict[str, list[str]] = {}
    counts = CleanCounts()
    for ln in db.lines:
        if ln.split is None:
            dropped.setdefault(NOT_IN_SPLIT, []).append(ln.id)
            continue
        off, reason = clean_line(ln.xy, ln.eos, ln.text, cfg, ln.time, counts)
        if reason is not None:
            dropped.setdefault(reason, []).append(ln.id)
            continue
        kept.append((ln.id, ln.text or "", ln.split, off))
    if not kept:
        raise GenseqError("no usable IAM-OnDB lines (see the problems reported above)")
    train_names = resolve_split(train)
    train_lines = [k[3] for k in kept if k[2] in train_names]
    if not train_lines:
        raise GenseqError(f"no training lines in {', '.join(train_names)}: cannot normalise")
    stats = NormStats.fit(train_lines, source=f"{train} = {'+'.join(train_names)}")
    lengths = np.array([len(k[3]) for k in kept], np.int64)
    index = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    meta = {
        "version": CACHE_VERSION,
        "clean": cfg.to_dict(),
        "preprocessing": cfg.preprocessing,
        "clean_counts": asdict(counts),  # over the lines of the split lists, kept or not
        "train": list(train_names),
        "dropped": dropped,
        "problems": db.problems,
        "xml_split_sizes": db.split_sizes(),
    }
    return HandCache(
        ids=[k[0] for k in kept],
        texts=[k[1] for k in kept],
        splits=[k[2] for k in kept],
        points=np.concatenate([k[3] for k in kept]).astype(np.float32),
        index=index,
        stats=stats,
        alphabet=Alphabet.from_texts(k[1] for k in kept),
        meta=meta,
    )
