"""Making built-in styles (`genseq hand styles --make`): lines a trained synthesis network
writes itself, optionally primed with real IAM-OnDB lines of different writers (§5.5) so the
candidates are distinct hands. Only the network's own points are saved, never a real line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.sample import HandModel, load_hand_model, synthesize_text
from genseq.hand.styles import STYLES_DIR, Style

STYLE_TEXTS = (  # what `make_styles` asks the network to write (letters common in IAM-OnDB)
    "the quick brown fox jumps over",
    "a handwritten line of words",
    "some words written in my hand",
    "pack my box with five dozen",
)
Primer = tuple[np.ndarray, str, str]  # a real line: normalised offsets, text, line id


def primer_lines(
    cache: str | Path,
    model: HandModel | str | Path,
    n: int,
    seed: int = 0,
    split: str = "valid",
) -> list[Primer]:
    """n real lines (normalised strokes, text, id) of a cache's `split`, spread over the set
    in a seeded random order (different forms, so mostly different writers), whose text the
    model's alphabet can encode. `model`: a loaded HandModel or its directory."""
    from genseq.hand.data import HandDataset

    m = model if isinstance(model, HandModel) else load_hand_model(model)
    if m.alphabet is None:
        raise GenseqError("making styles needs a synthesis model (hand train --task synth)")
    ds = HandDataset(cache, split, alphabet=m.alphabet)
    order = np.random.default_rng(seed).permutation(len(ds))
    out: list[Primer] = []
    forms: set[str] = set()
    for i in order.tolist():
        line = ds[i]
        form = line.id.rsplit("-", 1)[0]
        if form in forms or not line.text.strip():
            continue
        forms.add(form)
        out.append((m.stats.normalise(ds.cache.raw(int(ds.positions[i]))), line.text, line.id))
        if len(out) == n:
            break
    if not out:
        raise GenseqError(f"no {split} lines with text in {cache}")
    return out


def _candidates(
    m: HandModel,
    n: int,
    seed: int,
    bias: float,
    texts: tuple[str, ...],
    finished_only: bool,
    primers: list[Primer] | None,
) -> list[tuple[np.ndarray, str, str]]:
    """Up to n (normalised points, text, how it was primed) from up to 4n tries."""
    gen = torch.Generator().manual_seed(seed)
    kept: list[tuple[np.ndarray, str, str]] = []
    tries = 0
    while len(kept) < n and tries < 4 * n:
        if primers:  # one primed line per call: each try has its own writer
            pts, ptext, pid = primers[tries % len(primers)]
            batch = [texts[tries % len(texts)]]
            style: Style | None = Style(ptext, offsets=pts, norm=m.stats)
            where = f", primed with IAM-OnDB line {pid}"
        else:
            batch = [texts[(tries + j) % len(texts)] for j in range(min(8, 4 * n - tries))]
            style, where = None, ""
        tries += len(batch)
        syn = synthesize_text(m, batch, bias, style, gen, trim_prime=False)
        for s, ok, text in zip(syn.strokes, syn.stopped, batch, strict=True):
            pts = s.numpy()
            good = ok and len(pts) >= 5 * len(text)
            if (good or not finished_only) and len(pts) and len(kept) < n:
                kept.append((pts, text, where))
    return kept


def _contact_sheet(kept: list[tuple[np.ndarray, str, str]], m: HandModel, path: Path) -> None:
    from matplotlib.figure import Figure

    from genseq.hand.render import plot_strokes

    fig = Figure(figsize=(10, 1.2 * len(kept)))
    for k, (pts, text, _) in enumerate(kept):
        ax = fig.add_subplot(len(kept), 1, k + 1)
        plot_strokes(ax, pts, stats=m.stats)
        ax.set_title(f"{k}: {text}", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=80, facecolor="white")


def make_styles(
    model_dir: str | Path,
    out_dir: str | Path | None = None,
    n: int = 12,
    seed: int = 0,
    bias: float = 0.5,
    texts: tuple[str, ...] = STYLE_TEXTS,
    finished_only: bool = True,
    primers: list[Primer] | None = None,
    prime_data: str | Path | None = None,
) -> list[Path]:
    """Sample `n` candidate style lines with a trained synthesis model and save each as
    out_dir/style-NN.json ({"text", "points", "source", "norm"}), plus out_dir/candidates.png,
    a contact sheet to choose from (delete the files you do not want; the rest are the
    built-ins, numbered in file-name order). With finished_only, only lines the network
    ended by the §5.3 stop rule, with >= 5 points a character, are kept (up to 4n tries).

    primers: real lines (normalised strokes, text, id), one per try in turn: each candidate
    is then the network's own writing primed with a writer's line (§5.5), so the styles are
    distinct hands; the file keeps only the network's points, never the real line's.
    prime_data: a cache to take 4n such lines from (`primer_lines`), instead of `primers`."""
    m = load_hand_model(model_dir)
    if m.alphabet is None:
        raise GenseqError("making styles needs a synthesis model (hand train --task synth)")
    if prime_data is not None:
        primers = primer_lines(prime_data, m, 4 * n, seed)
    out_dir = Path(out_dir) if out_dir is not None else STYLES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = _candidates(m, n, seed, bias, texts, finished_only, primers)
    norm = json.loads(m.stats.to_json())
    paths = []
    for k, (pts, text, where) in enumerate(kept):
        p = out_dir / f"style-{k:02d}.json"
        d = {
            "text": text,
            "points": np.round(pts.astype(np.float64), 4).tolist(),
            "source": f"written by the network in {Path(model_dir).name} (seed {seed}, bias "
            f"{bias}{where})",
            "norm": norm,
        }
        p.write_text(json.dumps(d) + "\n", encoding="utf-8")
        paths.append(p)
    if kept:
        _contact_sheet(kept, m, out_dir / "candidates.png")
    return paths
