"""Training-ready handwriting data: the prepared cache, a dataset view, deterministic batches.

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
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet, get_alphabet
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


def cache_summary(cache: HandCache) -> str:
    """Lines per split, dropped lines and why, points per line/character, alphabet sizes."""
    counts = Counter(cache.splits)
    lengths = cache.lengths()
    chars = np.array([len(t) for t in cache.texts])
    has_text = chars > 0
    out = []
    xml = cache.meta.get("xml_split_sizes")
    if xml:
        out.append(
            "XML lines per split: "
            + ", ".join(f"{k} {v}" for k, v in xml.items())
            + f" (total {sum(xml.values())})"
        )
    out.append(
        f"kept lines: {len(cache)} = " + ", ".join(f"{s} {counts.get(s, 0)}" for s in SPLITS)
    )
    for name, parts in PAPER_SETS.items():
        sel = cache.select(name)
        untranscribed = sum(1 for p in sel if not cache.texts[p])
        out.append(
            f"  paper {name} set ({'+'.join(parts)}): {len(sel)} lines"
            + (f" ({untranscribed} without transcription)" if untranscribed else "")
        )
    for reason, ids in sorted(cache.meta.get("problems", {}).items()):
        out.append(
            f"reader problem: {reason}: {len(ids)} ({', '.join(ids[:4])}"
            f"{' ...' if len(ids) > 4 else ''})"
        )
    dropped = cache.meta.get("dropped", {})
    out.append(f"dropped lines: {sum(len(v) for v in dropped.values())}")
    for reason, ids in sorted(dropped.items()):
        out.append(f"  {reason}: {len(ids)} ({', '.join(ids[:4])}{' ...' if len(ids) > 4 else ''})")
    out.append(
        f"points per line: mean {lengths.mean():.1f}, max {lengths.max()}, "
        f"min {lengths.min()}; points per character: "
        f"{lengths[has_text].sum() / chars.sum():.1f}"
    )
    s = cache.stats
    out.append(
        f"offset stats ({s.source}): mean ({s.mean[0]:.3f}, {s.mean[1]:.3f}), "
        f"std ({s.std[0]:.3f}, {s.std[1]:.3f}) over {s.n_points} points"
    )
    out.append(
        f"alphabet: {len(cache.alphabet)} characters (full), "
        f"{len(get_alphabet('paper57'))} (paper57): {''.join(cache.alphabet.symbols)!r}"
    )
    clean = cache.meta.get("clean", {})
    if clean.get("extra"):
        out.append(f"extra cleaning (not in the paper): {', '.join(clean['extra'])}")
    out.append(_preprocessing_summary(cache))
    return "\n".join(out)


def _preprocessing_summary(cache: HandCache) -> str:
    """Which preprocessing (§4), what it did, and the points per validation line."""
    valid = cache.select("valid")
    per_line = f"{cache.lengths()[valid].mean():.1f}" if len(valid) else "-"
    text = f"preprocessing: {cache.meta.get('preprocessing', 'raw')}"
    paper = cache.meta.get("clean", {}).get("paper")
    if paper:
        n = cache.meta.get("clean_counts", {})
        text += (
            f" (pen-down gaps of {paper['gap_factor']} periods to {paper['max_gap']} s filled: "
            f"{n.get('interpolated', 0)} points interpolated in {n.get('gaps', 0)} gaps; "
            f"{n.get('removed', 0)} pen-down steps > {paper['max_step']} units removed)"
        )
    return text + f"; points per testset_v line: mean {per_line}"


# --- dataset ----------------------------------------------------------------------------------
@dataclass
class HandLine:
    id: str
    strokes: np.ndarray  # (T, 3) float32: normalised (Δx, Δy), e in channel 2
    text: str
    codes: np.ndarray  # (U,) int64, alphabet codes (1-based; 0 = padding)


class HandDataset:
    """One set of lines of a cache, normalised with the cache's training statistics and with
    text encoded in `alphabet` ("full": the cache's, "paper57", or an Alphabet).

    require_text: skip lines without a transcription (synthesis needs text; prediction (§4)
    can pass False to train on all of the paper's 10,741 lines)."""

    def __init__(
        self,
        cache: HandCache | str | Path,
        split: str | tuple[str, ...] = "train",
        alphabet: str | Alphabet = "full",
        normalise: bool = True,
        require_text: bool = True,
    ) -> None:
        self.cache = cache if isinstance(cache, HandCache) else HandCache.load(cache)
        self.split = split
        self.alphabet = (
            self.cache.alphabet if alphabet == "full" else get_alphabet(alphabet, self.cache.texts)
        )
        self.stats = self.cache.stats
        self.normalise = normalise
        positions = self.cache.select(split)
        if require_text:
            positions = positions[np.array([bool(self.cache.texts[p]) for p in positions], bool)]
        self.positions = positions
        self.lengths = self.cache.lengths()[self.positions]
        self.codes = [
            np.array(self.alphabet.encode(self.cache.texts[p]), np.int64) for p in self.positions
        ]

    def __len__(self) -> int:
        return len(self.positions)

    def strokes(self, i: int) -> np.ndarray:
        raw = self.cache.raw(int(self.positions[i]))
        return self.stats.normalise(raw) if self.normalise else raw.astype(np.float32)

    def __getitem__(self, i: int) -> HandLine:
        p = int(self.positions[i])
        return HandLine(self.cache.ids[p], self.strokes(i), self.cache.texts[p], self.codes[i])

    def index_of(self, line_id: str) -> int:
        p = self.cache.position(line_id)
        hit = np.flatnonzero(self.positions == p)
        if not len(hit):
            raise GenseqError(f"line {line_id} is not in the {self.split} set")
        return int(hit[0])


def collate(strokes: list[np.ndarray], codes: list[np.ndarray], ids: list[str]) -> dict:
    """Pad a list of lines into a batch (see HandBatches.batch)."""
    b = len(strokes)
    t = max(len(s) for s in strokes)
    u = max(1, max(len(c) for c in codes))
    x = np.zeros((b, t, 3), np.float32)
    mask = np.zeros((b, t), bool)
    text = np.zeros((b, u), np.int64)
    for j, (s, c) in enumerate(zip(strokes, codes, strict=True)):
        x[j, : len(s)] = s
        mask[j, : len(s)] = True
        text[j, : len(c)] = c
    return {
        "strokes": torch.from_numpy(x),
        "mask": torch.from_numpy(mask),
        "text": torch.from_numpy(text),
        "text_mask": torch.from_numpy(text != 0),
        "lengths": torch.from_numpy(mask.sum(1)),
        "ids": list(ids),
    }


# --- batches ----------------------------------------------------------------------------------
class HandBatches:
    """Length-bucketed batches, deterministic in (seed, epoch, i) so training resumes exactly.

    Each epoch: shuffle the lines (rng seeded by (seed, epoch)), cut the order into pools of
    `pool` batches, sort each pool by length and cut it into batches (little padding), then
    shuffle the batch order. With crop_len, a line longer than crop_len is cut to a random
    window of crop_len points (start drawn from the same rng) — for prediction (§4) only:
    the text stays the whole line's. len(self) = ceil(len(dataset) / batch_size)."""

    def __init__(
        self,
        dataset: HandDataset,
        batch_size: int,
        seed: int = 0,
        crop_len: int | None = None,
        shuffle: bool = True,
        pool: int = 50,
    ) -> None:
        if batch_size < 1:
            raise GenseqError(f"batch size must be >= 1, got {batch_size}")
        if crop_len is not None and crop_len < 2:
            raise GenseqError(f"crop length must be >= 2, got {crop_len}")
        if len(dataset) == 0:
            raise GenseqError(f"no lines in the {dataset.split} set")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.crop_len, self.shuffle, self.pool = crop_len, shuffle, pool
        self._plan_epoch: int | None = None
        self._plan: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def plan(self, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(dataset indices, crop starts)] for every batch of `epoch`."""
        if self._plan_epoch == epoch:
            return self._plan
        n, bs = len(self.dataset), self.batch_size
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        lengths = self.dataset.lengths
        starts = np.zeros(n, np.int64)
        if self.crop_len is not None:
            room = np.maximum(lengths - self.crop_len, 0)
            starts = (rng.random(n) * (room + 1)).astype(np.int64)  # uniform in [0, room]
            lengths = np.minimum(lengths, self.crop_len)
        batches = []
        step = bs * self.pool
        for a in range(0, n, step):
            chunk = order[a : a + step]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[b : b + bs] for b in range(0, len(chunk), bs)]
        if self.shuffle:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        self._plan_epoch, self._plan = epoch, [(b, starts[b]) for b in batches]
        return self._plan

    def batch_lengths(self, epoch: int) -> list[int]:
        """The padded length T of every batch of `epoch`, without loading any (TBPTT chunk
        counts, genseq.hand.task)."""
        lengths = self.dataset.lengths
        if self.crop_len is not None:
            lengths = np.minimum(lengths, self.crop_len)
        return [int(lengths[idx].max()) for idx, _ in self.plan(epoch)]

    def batch(self, epoch: int, i: int) -> dict:
        """Batch i of `epoch`: strokes (B, T, 3) float32, mask (B, T) bool, text (B, U) long
        (0 = pad), text_mask (B, U) bool, lengths (B,) long, ids, starts (crop offsets)."""
        plan = self.plan(epoch)
        if not 0 <= i < len(plan):
            raise IndexError(f"batch {i} of {len(plan)}")
        idx, starts = plan[i]
        strokes, codes, ids = [], [], []
        for j, s in zip(idx.tolist(), starts.tolist(), strict=True):
            x = self.dataset.strokes(j)
            if self.crop_len is not None:
                x = x[s : s + self.crop_len]
            strokes.append(x)
            codes.append(self.dataset.codes[j])
            ids.append(self.dataset.cache.ids[int(self.dataset.positions[j])])
        out = collate(strokes, codes, ids)
        out["starts"] = starts.tolist()
        return out

    def epoch(self, epoch: int, start: int = 0):
        """Iterate the batches of `epoch` from batch `start` (for resuming)."""
        for i in range(start, len(self)):
            yield self.batch(epoch, i)
