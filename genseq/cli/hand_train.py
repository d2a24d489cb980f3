"""`genseq hand train`: a prediction (§4) or synthesis (§5) network."""

from __future__ import annotations

import argparse
from pathlib import Path

from genseq.cli.command import at_least, command
from genseq.cli.train_flags import (
    add_train_flags,
    init_source,
    run_training,
    saved_ints,
    train_config,
)
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.batches import oversample
from genseq.hand.data import HandBatches, HandCache, HandDataset
from genseq.hand.model import PredictionConfig, PredictionNet, SynthesisConfig, SynthesisNet
from genseq.hand.strokes import NormStats
from genseq.hand.task import HandTask
from genseq.train.checkpoint import checkpoint_config
from genseq.train.registry import model_class

TASKS = (PredictionNet.kind, SynthesisNet.kind)


def add_train(hs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    help = "train a prediction (§4) or synthesis (§5) network"
    p = command(hs, cmd_train, help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--task", choices=list(TASKS), required=True)
    p.add_argument("--data", required=True, help="cache written by `genseq hand prepare`")
    p.add_argument("--out", required=True, help="model directory to write")
    g = p.add_argument_group("model")
    g.add_argument("--layers", type=int, default=3)
    g.add_argument("--hidden", type=int, default=400)
    g.add_argument("--mixtures", type=int, default=20, help="M Gaussians of the MDN")
    g.add_argument("--window", type=int, default=10, help="K Gaussians of the soft window")
    g.add_argument("--alphabet", choices=["full", "paper57"], default="full")
    g.add_argument("--peepholes", action="store_true")
    g.add_argument(
        "--output-clip",
        type=float,
        default=0.0,
        help="clip output derivatives to [-v, v] (Graves: 100); 0 = off",
    )
    g.add_argument(
        "--crop-len",
        type=int,
        default=0,
        help="train on random crops of N points (prediction only); 0 = whole lines",
    )
    g.add_argument(
        "--chunk-len",
        type=int,
        default=0,
        help="truncated BPTT: one update per N points of each batch, the state (and the "
        "window's κ, w) carried across its chunks; 0 = one update per whole line (or crop)",
    )
    g.add_argument(
        "--oversample",
        metavar="REGEX=K",
        help="show each training line whose text matches REGEX K times an epoch, e.g. "
        "'[0-9]=8' for the digits that few lines hold (synthesis)",
    )
    g.add_argument(
        "--eval-batches",
        type=int,
        default=0,
        help="validate on the first N batches only (0 = the whole set)",
    )
    add_train_flags(p, lr=1e-3)
    p.set_defaults(batch_size=32)
    return p


def _datasets(
    cache: str, task: str, alphabet: str | Alphabet, stats: NormStats | None = None
) -> tuple[HandDataset, HandDataset]:
    """The training and validation lines; `stats`: a model's own normalisation instead of
    the cache's (a resumed run, or one started from another model's weights)."""
    if not Path(cache).is_file():
        raise GenseqError(f"no such cache: {cache} (make one with `genseq hand prepare`)")
    c = HandCache.load(cache)
    need_text = task == SynthesisNet.kind
    train = HandDataset(c, "train", alphabet=alphabet, require_text=need_text)
    valid = HandDataset(c, "valid", alphabet=train.alphabet, require_text=need_text)
    if stats is not None:
        train.stats = valid.stats = stats
    return train, valid


def _build(task: str, a: argparse.Namespace, alphabet_size: int) -> PredictionNet | SynthesisNet:
    at_least(a, 1, "layers", "hidden", "mixtures", "window")
    common = dict(
        hidden_size=a.hidden,
        num_layers=a.layers,
        n_mixtures=a.mixtures,
        peepholes=a.peepholes,
        dropout=a.dropout,
        lstm_grad_clip=a.lstm_clip,
        output_grad_clip=a.output_clip,
    )
    if task == PredictionNet.kind:
        return PredictionNet(PredictionConfig(**common))
    return SynthesisNet(SynthesisConfig(alphabet_size=alphabet_size, n_window=a.window, **common))


def _saved_data(cfg: dict) -> tuple[Alphabet, NormStats | None]:
    """A model config's alphabet and normalisation: what its weights mean."""
    stats = NormStats.from_json(cfg["norm"]) if "norm" in cfg else None
    return Alphabet.from_json(cfg["alphabet"]), stats


def cmd_train(a: argparse.Namespace) -> int:
    """Train a prediction (§4) or synthesis (§5) network on a prepared IAM-OnDB cache (or
    continue a run with --resume, or start one from a model's weights with --init-from)."""
    cfg = train_config(a)
    out = Path(a.out)
    source = init_source(a, (a.task,))  # its alphabet and statistics: the weights' meaning
    saved = None
    if a.resume:
        meta = checkpoint_config(out / "checkpoint.safetensors", TASKS)
        saved = meta["config"]
        cfg.seed = meta["train"]["seed"]  # the run's batch order, whatever --seed says now
        task, over = saved["kind"], saved.get("oversample")
        ints = {"crop_len": 0, "chunk_len": 0, **saved}  # (runs older than these settings)
        batch, crop, chunk = saved_ints(ints, out, batch_size=1, crop_len=0, chunk_len=0)
        if over is not None and not isinstance(over, str):
            raise GenseqError(f"the checkpoint in {out} has oversample = {over!r}: not text")
        train, valid = _datasets(a.data, task, *_saved_data(saved))
        model = model_class(task).from_config(saved["model"])
    else:
        task, batch, crop, chunk = a.task, a.batch_size, a.crop_len, a.chunk_len
        over = a.oversample
        at_least(a, 0, "chunk_len")
        if crop and task == SynthesisNet.kind:
            raise GenseqError("--crop-len is for prediction only: a crop loses its text")
        alphabet, stats = _saved_data(source) if source else (a.alphabet, None)
        train, valid = _datasets(a.data, task, alphabet, stats)
        model = _build(task, a, train.alphabet.size)
    repeats = oversample(train, over) if over else None
    batches = HandBatches(train, batch, seed=cfg.seed, crop_len=crop or None, repeats=repeats)
    vbatches = HandBatches(valid, batch, seed=0, shuffle=False)
    extra = {
        "norm": train.stats.to_json(),
        "alphabet": train.alphabet.to_json(),
        "batch_size": batch,
        "crop_len": crop,
        "chunk_len": chunk,
        "oversample": over,
        "data": str(a.data),
        "preprocessing": train.cache.preprocessing,
    }
    htask = HandTask(batches, vbatches, chunk_len=chunk, eval_batches=a.eval_batches)
    about = f"{task}: {len(train):,} training / {len(valid):,} validation lines"
    return run_training(
        a, cfg, model, htask, extra, about,
        lambda res: f"best validation {res['best']:.1f} nats per line", saved,
    )  # fmt: skip
