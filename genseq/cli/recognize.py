"""`genseq hand recognizer-train | read | legibility` and `genseq write --legible N`: thin
wiring over genseq.hand.recognize."""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

from genseq.cli.command import at_least, command
from genseq.cli.train_flags import add_train_flags, train_config
from genseq.errors import GenseqError
from genseq.hand.page import Page
from genseq.hand.recognize.legibility import (
    DEFAULT_PHRASES,
    floor,
    legibility,
    write_page_legible,
)
from genseq.hand.recognize.metrics import cer
from genseq.hand.recognize.model import DECODERS
from genseq.hand.recognize.read import load_recognizer, load_writer, read_file
from genseq.hand.recognize.train import train_recognizer
from genseq.hand.sample import HandModel
from genseq.hand.styles import Style


def add_recognizer_commands(hs: argparse._SubParsersAction) -> None:
    help = "train a handwriting recognizer (BLSTM encoder, attention decoder + CTC head)"
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = command(hs, cmd_recognizer_train, help, formatter_class=fmt)
    p.add_argument("--data", required=True, help="cache written by `genseq hand prepare`")
    p.add_argument("--out", required=True, help="model directory to write")
    g = p.add_argument_group("model")
    g.add_argument("--downsample", type=int, default=4, help="points stacked per frame")
    g.add_argument("--no-height", action="store_true", help="no pen-height feature")
    g.add_argument("--enc-hidden", type=int, default=128, help="per direction")
    g.add_argument("--enc-layers", type=int, default=2)
    g.add_argument("--dec-hidden", type=int, default=256)
    g.add_argument("--no-ctc", action="store_true", help="attention decoder only")
    g.add_argument("--ctc-weight", type=float, default=0.5)
    g.add_argument("--decoder", choices=DECODERS, default="ctc", help="the head that reads")
    g.add_argument("--eval-batches", type=int, default=8, help="validate on N batches (0 = all)")
    add_train_flags(p, lr=1e-3)
    add_read_commands(hs)


def cmd_recognizer_train(a: argparse.Namespace) -> int:
    """Train a handwriting recognizer (BLSTM encoder, attention decoder + CTC head) on a
    prepared IAM-OnDB cache (issue 13)."""
    cfg = train_config(a)
    if a.init_from is not None:
        raise GenseqError("--init-from is for text and hand train")
    at_least(a, 1, "downsample", "enc_hidden", "enc_layers", "dec_hidden")
    if not 0 <= a.ctc_weight < 1 or (a.no_ctc and a.decoder == "ctc"):
        raise GenseqError("--ctc-weight is in [0, 1); --no-ctc reads with --decoder attention")
    mc = dict(
        downsample=a.downsample,
        height=not a.no_height,
        enc_hidden=a.enc_hidden,
        enc_layers=a.enc_layers,
        dec_hidden=a.dec_hidden,
        dropout=a.dropout,
        ctc=not a.no_ctc,
        ctc_weight=0.0 if a.no_ctc else a.ctc_weight,
        decoder=a.decoder,
    )
    res = train_recognizer(
        a.data, a.out, cfg, mc, a.batch_size, a.eval_batches, a.resume, a.lr, not a.no_progress
    )
    print(f"genseq: {res['step']} updates, best validation CER {res['best']:.2%}; model in {a.out}")
    return 0


def add_read_commands(hs: argparse._SubParsersAction) -> None:
    p = command(hs, cmd_read, "read handwriting (SVG or JSON strokes) back into text")
    p.add_argument("file")
    p.add_argument("--recognizer", default="recognizer", help="shipped name or run directory")
    p.add_argument("--decoder", choices=DECODERS, default=None, help="default: the model's")
    help = "beam width (CTC: prefix beam search with the language model; attention: beam)"
    p.add_argument("--beam", type=int, default=1, help=help)
    help = "CTC beam: character LM, a shipped name or a path (default: the recognizer's own)"
    p.add_argument("--lm", default="auto", help=help + "; none: without")
    help = "CTC beam: weight of the LM's log-probabilities (default: tuned with the LM; 0: no LM)"
    p.add_argument("--lm-weight", type=float, default=None, help=help)
    help = "CTC beam: nats added per character read (default: tuned with the LM)"
    p.add_argument("--lm-bonus", type=float, default=None, help=help)

    help = "how readable the synthesis network's writing is: CER/WER per bias"
    p = command(hs, cmd_legibility, help)
    p.add_argument("--model", default="synth", help="synthesis model: shipped name or run dir")
    p.add_argument("--recognizer", default="recognizer")
    p.add_argument("--phrases", default=None, help="a text file, one phrase a line")
    p.add_argument("--bias", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--legible", type=int, default=1, help="best of N tries per line")
    p.add_argument("--data", default=None, help="IAM-OnDB cache for the floor (default: none)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_read(a: argparse.Namespace) -> int:
    """Read a handwriting file: SVG (paths, polylines; genseq's own outputs included), JSON
    {"points": [[x, y, eos], ...]} or {"strokes": ...} (y down), or a genseq style file. A
    page is cut into lines; one text line is printed per line. --beam N (CTC): prefix beam
    search with a character language model (the shipped recognizer's: recognizer-lm)."""
    at_least(a, 1, "beam")
    rec = load_recognizer(a.recognizer, None if a.lm == "none" else a.lm)
    texts, own = read_file(a.file, rec, a.decoder, a.beam, a.lm_weight, a.lm_bonus)
    for t in texts:
        print(t)
    if own.strip():
        print(f"genseq: the file says {own!r}: CER {cer([own], [' '.join(texts)]):.1%}")
    return 0


def _phrases(path: str | None) -> list[str]:
    if path is None:
        return list(DEFAULT_PHRASES)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GenseqError(f"cannot read the phrases file {path} ({e.__class__.__name__})") from None
    phrases = [" ".join(s.split()) for s in lines if s.strip()]
    if not phrases:
        raise GenseqError(f"{path} has no phrases")
    return phrases


def cmd_legibility(a: argparse.Namespace) -> int:
    """Write each phrase with a synthesis model, read it back with the recognizer and report
    CER / WER per bias, beside the recognizer's CER on real testset_v lines (the floor)."""
    at_least(a, 1, "seeds", "legible")
    rec = load_recognizer(a.recognizer)
    model = load_writer(a.model)
    rows = legibility(model, rec, _phrases(a.phrases), tuple(a.bias), a.seeds, a.legible)
    base = floor(rec, a.data) if a.data else None
    if a.json:
        print(json.dumps({"legibility": rows, "floor": base}))
        return 0
    for r in rows:
        ratio = f" = {r['cer'] / base['cer']:.2f} x floor" if base and base["cer"] > 0 else ""
        print(
            f"bias {r['bias']:g}: CER {r['cer']:.1%}{ratio}, WER {r['wer']:.1%} "
            f"({r['lines']} lines, {r['finished']} finished)"
        )
    if base:
        print(
            f"floor (real testset_v lines): CER {base['cer']:.1%}, WER {base['wer']:.1%} "
            f"({base['lines']} lines)"
        )
    return 0


def add_legible_flags(p: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """`genseq write --legible N [--recognizer NAME]`."""
    p.add_argument(
        "--legible",
        type=int,
        default=1,
        metavar="N",
        help="write each line up to N times and keep the one the recognizer reads best",
    )
    p.add_argument("--recognizer", default="recognizer", help="for --legible")


def legible_page(a: argparse.Namespace, m: HandModel, text: str, style: Style | None) -> Page:
    """The page of `genseq write`, the best-read of --legible N tries per line (N >= 2)."""
    rec = load_recognizer(a.recognizer)
    seed = a.seed if a.seed is not None else secrets.randbelow(2**31)  # tries: seed, seed + 1, ..
    return write_page_legible(m, rec, text, a.legible, a.width, a.bias, style, seed, a.precision)
