"""`genseq text train|eval|sample`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genseq.cli.command import at_least, command
from genseq.cli.train_flags import (
    add_precision_flag,
    add_train_flags,
    init_source,
    run_training,
    saved_ints,
    train_config,
)
from genseq.errors import GenseqError
from genseq.nn.precision import autocast
from genseq.text.corpus import Vocab, load_corpus
from genseq.text.dynamic import RATES, choose_rate
from genseq.text.evaluate import display, evaluate
from genseq.text.model import TextModel, TextModelConfig, load_text_model
from genseq.text.sample import sample
from genseq.text.task import TextTask
from genseq.train.checkpoint import checkpoint_config
from genseq.train.pretrained import shipped_names

FORMATS = ["plain", "ptb-char", "ptb-word", "enwik8", "text8"]
DEFAULT_MODEL = "shakespeare"  # the shipped char model `text sample` uses with no --model


def register(sub: argparse._SubParsersAction) -> None:
    text = sub.add_parser("text", help="character- and word-level language models (§3)")
    ts = text.add_subparsers(dest="text_command", metavar="COMMAND", required=True)
    add_train(ts)
    add_eval(ts)
    add_sample(ts)


def add_train(ts: argparse._SubParsersAction) -> None:
    p = command(
        ts, cmd_train, "train a text model", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--data", required=True, help="a text file, or the corpus directory / archive")
    p.add_argument("--format", default="plain", choices=FORMATS)
    p.add_argument("--out", required=True, help="model directory to write")
    g = p.add_argument_group("model")
    g.add_argument("--layers", type=int, default=1)
    g.add_argument("--hidden", type=int, default=1000)
    g.add_argument("--peepholes", action="store_true", help="eqs 7-11 peepholes (slower)")
    g.add_argument(
        "--embed",
        type=int,
        default=-1,
        help="learned embedding size; 0 = one-hot (default for char, 400 for word)",
    )
    g.add_argument("--seq-len", type=int, default=100, help="truncated BPTT segment length")
    g.add_argument(
        "--eval-symbols", type=int, default=0, help="validate on the first N symbols only (0 = all)"
    )
    add_train_flags(p)


def add_eval(ts: argparse._SubParsersAction) -> None:
    p = command(ts, cmd_eval, "bpc / perplexity / error %% of a model on a split")
    p.add_argument("--model", required=True, help="run directory or shipped model name")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default="plain", choices=FORMATS)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--dynamic", action="store_true", help="dynamic evaluation (§3)")
    p.add_argument(
        "--dynamic-lr",
        type=float,
        default=None,
        help="SGD step size of --dynamic, on each segment's summed loss (default: the rate of "
        "--dynamic-rates with the lowest loss on the validation split, stated in the output)",
    )
    p.add_argument(
        "--dynamic-rates",
        type=float,
        nargs="+",
        default=list(RATES),
        help="the rates tried on validation data when --dynamic-lr is not given",
    )
    p.add_argument(
        "--dynamic-momentum", type=float, default=0.0, help="momentum of --dynamic (§3: 0.99)"
    )
    p.add_argument(
        "--tune-symbols",
        type=int,
        default=50_000,
        help="validation symbols each rate is tried on (0 = the whole split)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="parallel streams (default 16; 1 with --dynamic: the paper's sequential adaptation)",
    )
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_precision_flag(p)


def add_sample(ts: argparse._SubParsersAction) -> None:
    p = command(ts, cmd_sample, "generate text, streamed to stdout")
    p.add_argument(
        "--model",
        default=None,
        help=f"run directory or shipped model name (default: the shipped {DEFAULT_MODEL!r})",
    )
    p.add_argument("--prime", default="", help="text to condition on")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)


def _model(a: argparse.Namespace, vocab: Vocab) -> TextModel:
    """A new TextModel from the model flags."""

    at_least(a, 1, "layers", "hidden", "seq_len", "batch_size")
    embed = a.embed if a.embed >= 0 else (400 if vocab.level == "word" else 0)
    return TextModel(
        TextModelConfig(
            vocab_size=len(vocab),
            hidden_size=a.hidden,
            num_layers=a.layers,
            peepholes=a.peepholes,
            dropout=a.dropout,
            lstm_grad_clip=a.lstm_clip,
            embed_size=embed,
        )
    )


def cmd_train(a: argparse.Namespace) -> int:
    """Train a character- or word-level LSTM language model (§3) with truncated BPTT over
    parallel streams (or continue a run with --resume, or start one from a model's weights
    with --init-from)."""

    cfg = train_config(a)
    source = init_source(a, (TextModel.kind,))
    saved = None
    if a.resume:
        saved = checkpoint_config(Path(a.out) / "checkpoint.safetensors", (TextModel.kind,))
        saved = saved["config"]
        if "vocab" not in saved:
            raise GenseqError(f"the checkpoint in {a.out} lacks vocab")
        seq_len, batch = saved_ints(saved, a.out, seq_len=1, batch_size=1)
        vocab = Vocab.from_json(saved["vocab"])
        corpus = load_corpus(a.data, a.format, vocab=vocab)
        model = TextModel.from_config(saved["model"])
    else:  # with --init-from, its vocabulary: the weights' rows keep their symbols
        given = Vocab.from_json(source["vocab"]) if source else None
        corpus = load_corpus(a.data, a.format, vocab=given)
        vocab = corpus.vocab
        model = _model(a, vocab)
        seq_len, batch = a.seq_len, a.batch_size
    task = TextTask(corpus, batch, seq_len, eval_symbols=a.eval_symbols)
    extra = {
        "vocab": vocab.to_json(),
        "data_format": a.format,
        "seq_len": seq_len,
        "batch_size": batch,
    }
    about = (
        f"{corpus.name}: {len(vocab)} symbols, train {len(corpus.train):,} / "
        f"valid {len(corpus.valid):,}"
    )
    return run_training(
        a, cfg, model, task, extra, about,
        lambda res: f"best valid {task.primary} {res['best']:.4f}", saved,
    )  # fmt: skip


def cmd_eval(a: argparse.Namespace) -> int:
    """Bits per character (or perplexity) and next-symbol error of a text model on a split,
    static or with dynamic evaluation (§3), its rate chosen on the validation split."""

    m = load_text_model(a.model)
    corpus = load_corpus(a.data, a.format, vocab=m.vocab)
    batch = a.batch_size or (1 if a.dynamic else 16)
    if batch < 1 or a.seq_len < 1:
        raise GenseqError("--batch-size and --seq-len must be >= 1")
    chosen: dict = {}
    rate = a.dynamic_lr
    with autocast(a.precision):  # dynamic evaluation's backward follows the casts
        if a.dynamic and rate is None:
            c = choose_rate(m.net, corpus.valid, m.vocab.level, a.dynamic_rates,
                            a.dynamic_momentum, a.tune_symbols, batch, a.seq_len)  # fmt: skip
            rate, chosen = c.rate, c.as_dict()
        elif a.dynamic and not (rate >= 0 and 0 <= a.dynamic_momentum < 1):
            raise GenseqError("--dynamic-lr must be >= 0 and --dynamic-momentum in [0, 1)")
        res = evaluate(
            m.net, corpus.split(a.split), m.vocab.level, batch, a.seq_len, dynamic=a.dynamic,
            dynamic_lr=rate or 0.0, progress=not a.json, dynamic_momentum=a.dynamic_momentum,
        )  # fmt: skip
    d = {"model": str(a.model), "split": a.split, "dynamic": a.dynamic, **res.as_dict()}
    if a.dynamic:
        d.update({**chosen, "dynamic_lr": rate, "dynamic_momentum": a.dynamic_momentum})
    if a.json:
        print(json.dumps(d))
        return 0
    main = f"{d['ppl']:.2f} perplexity" if "ppl" in d else f"{d['bpc']:.4f} bpc"
    how = ""
    if a.dynamic:
        where = (
            f"chosen on {chosen['dynamic_lr_search_symbols']:,} validation symbols"
            if chosen
            else "given"
        )
        how = f" (dynamic, lr {rate:g} {where}, momentum {a.dynamic_momentum:g})"
    print(
        f"{a.split}{how}: {main}, {d['nats']:.4f} nats/symbol, "
        f"error {d['error']:.2f}% over {d['symbols']:,} symbols"
    )
    if chosen:
        tried = ", ".join(f"{r} -> {display_main(v, m.vocab.level)}"
                          for r, v in chosen["dynamic_lr_search"].items())  # fmt: skip
        print(f"dynamic lr search on validation: {tried}")
    return 0


def display_main(nats: float, level: str) -> str:
    """'1.4213 bpc' or '123.45 ppl' of a loss in nats per symbol."""
    ((unit, v),) = display(nats, level).items()
    return f"{v:.2f} ppl" if unit == "ppl" else f"{v:.4f} bpc"


def cmd_sample(a: argparse.Namespace) -> int:
    """Generate text from a text model, primed with a string, streamed to stdout."""

    name = a.model
    if name is None:
        if DEFAULT_MODEL not in shipped_names():
            raise GenseqError(
                f"no --model given and the default text model {DEFAULT_MODEL!r} is not shipped "
                "in this install: give --model RUN_DIR (a `genseq text train` output)"
            )
        name = DEFAULT_MODEL
    m = load_text_model(name)
    out = sys.stdout
    out.write(a.prime)
    for s in sample(m.net, m.vocab, a.prime, a.length, a.temperature, a.seed):
        out.write(s)
        out.flush()
    out.write("\n")
    return 0
