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
    train_config,
)
from genseq.errors import GenseqError
from genseq.nn.precision import autocast
from genseq.text.corpus import Vocab, load_corpus
from genseq.text.evaluate import evaluate
from genseq.text.model import TextModel, TextModelConfig, load_text_model
from genseq.text.sample import sample
from genseq.text.task import TextTask
from genseq.train.checkpoint import checkpoint_config

FORMATS = ["plain", "ptb-char", "ptb-word", "enwik8", "text8"]


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
    p.add_argument("--dynamic-lr", type=float, default=1e-4, help="SGD step size of --dynamic")
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
    p.add_argument("--model", required=True, help="run directory or shipped model name")
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
        missing = [k for k in ("vocab", "seq_len", "batch_size") if k not in saved]
        if missing:
            raise GenseqError(f"the checkpoint in {a.out} lacks {', '.join(missing)}")
        vocab = Vocab.from_json(saved["vocab"])
        corpus = load_corpus(a.data, a.format, vocab=vocab)
        model = TextModel.from_config(saved["model"])
        seq_len, batch = saved["seq_len"], saved["batch_size"]
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
    static or with dynamic evaluation (§3)."""

    m = load_text_model(a.model)
    corpus = load_corpus(a.data, a.format, vocab=m.vocab)
    with autocast(a.precision):  # dynamic evaluation's backward follows the casts
        res = evaluate(
            m.net,
            corpus.split(a.split),
            m.vocab.level,
            a.batch_size or (1 if a.dynamic else 16),
            a.seq_len,
            dynamic=a.dynamic,
            dynamic_lr=a.dynamic_lr,
            progress=not a.json,
        )
    d = {"model": str(a.model), "split": a.split, "dynamic": a.dynamic, **res.as_dict()}
    if a.json:
        print(json.dumps(d))
    else:
        main = f"{d['ppl']:.2f} perplexity" if "ppl" in d else f"{d['bpc']:.4f} bpc"
        print(
            f"{a.split}{' (dynamic)' if a.dynamic else ''}: {main}, "
            f"{d['nats']:.4f} nats/symbol, error {d['error']:.2f}% over {d['symbols']:,} symbols"
        )
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    """Generate text from a text model, primed with a string, streamed to stdout."""

    m = load_text_model(a.model)
    out = sys.stdout
    out.write(a.prime)
    for s in sample(m.net, m.vocab, a.prime, a.length, a.temperature, a.seed):
        out.write(s)
        out.flush()
    out.write("\n")
    return 0
