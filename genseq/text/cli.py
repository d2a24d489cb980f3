"""`genseq text train|eval|sample`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from genseq.errors import GenseqError
from genseq.nn.precision import PRECISIONS, autocast, resolve
from genseq.train.trainer import TrainConfig


def add_train_flags(p: argparse.ArgumentParser, lr: float = 1e-3) -> None:
    """Training flags shared by `text train` and `hand train`."""
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop-graves", "sgd"])
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"learning rate (default {lr}); with --resume, replaces the run's current rate",
    )
    p.set_defaults(lr_default=lr)
    g.add_argument("--momentum", type=float, default=0.9, help="for sgd and rmsprop-graves")
    g.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip, 0 = off")
    g.add_argument(
        "--lstm-clip",
        type=float,
        default=0.0,
        help="Graves' clip of LSTM pre-activation derivatives to [-v, v] "
        "(slower: disables the fused kernel); 0 = off",
    )
    g.add_argument("--dropout", type=float, default=0.0)
    g.add_argument("--weight-noise", type=float, default=0.0, help="std of weight noise (§3)")
    g.add_argument(
        "--noise-groups",
        type=int,
        default=1,
        help="draw weight noise for each of N groups of a batch's sequences (N = --batch-size: "
        "per sequence, as the paper; 1: one draw per batch, cheapest)",
    )
    g.add_argument(
        "--adaptive-noise",
        type=float,
        default=0.0,
        metavar="SIGMA0",
        help="adaptive weight noise (Graves 2011, the paper's best rows) with every σ "
        "starting at SIGMA0 (paper: 0.075); 0 = off",
    )
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--steps", type=int, default=0, help="stop after N updates")
    g.add_argument("--epochs", type=float, default=0.0, help="stop after N epochs")
    g.add_argument("--minutes", type=float, default=0.0, help="stop after N minutes")
    g.add_argument("--eval-every", type=int, default=500, help="updates between validations")
    g.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds")
    g.add_argument("--lr-decay", type=float, default=0.5, help="on a validation plateau")
    g.add_argument("--patience", type=int, default=2)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    add_precision_flag(g, "auto")
    g.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--distributed",
        action="store_true",
        help="data parallel over the processes of `torchrun --nproc_per_node=N -m genseq ...` "
        "(DDP: gloo on CPU, nccl on GPU); --batch-size stays the global batch",
    )


def add_precision_flag(g, default: str = "fp32") -> None:
    """--precision (genseq.nn.precision): also for the eval commands."""
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help="bf16: GEMMs in bf16, fp32 weights and losses; auto: bf16 on CUDA or a CPU with "
        "AMX / AVX512-BF16, else fp32",
    )


def train_config(a: argparse.Namespace) -> TrainConfig:
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if getattr(a, "distributed", False):
        from genseq.train.distributed import init

        init()  # before the data and the model: every rank builds the same ones
    torch.manual_seed(a.seed)  # the model's initial weights follow --seed too
    return TrainConfig(
        optimizer=a.optimizer,
        lr=a.lr if a.lr is not None else a.lr_default,
        momentum=a.momentum,
        clip=a.clip,
        weight_noise=a.weight_noise,
        noise_groups=a.noise_groups,
        adaptive_noise=a.adaptive_noise,
        steps=a.steps,
        epochs=a.epochs,
        minutes=a.minutes,
        eval_every=a.eval_every,
        checkpoint_every=a.checkpoint_every,
        lr_decay=a.lr_decay,
        patience=a.patience,
        seed=a.seed,
        precision=resolve(a.precision),  # the CLI trains on the CPU
    )


def register(sub: argparse._SubParsersAction) -> None:
    text = sub.add_parser("text", help="character- and word-level language models (§3)")
    ts = text.add_subparsers(dest="text_command", metavar="COMMAND", required=True)
    formats = ["plain", "ptb-char", "ptb-word", "enwik8", "text8"]

    p = ts.add_parser(
        "train", help="train a text model", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--data", required=True, help="a text file, or the corpus directory / archive")
    p.add_argument("--format", default="plain", choices=formats)
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
    p.set_defaults(func=cmd_train)

    p = ts.add_parser("eval", help="bpc / perplexity / error %% of a model on a split")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True)
    p.add_argument("--format", default="plain", choices=formats)
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
    p.set_defaults(func=cmd_eval)

    p = ts.add_parser("sample", help="generate text, streamed to stdout")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--prime", default="", help="text to condition on")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_sample)


def _load_text_model(model_dir: str):
    from genseq.text.corpus import Vocab
    from genseq.train.checkpoint import load_model

    model, cfg = load_model(Path(model_dir))
    if cfg["kind"] != "text":
        raise GenseqError(f"{model_dir} holds a {cfg['kind']} model, not a text model")
    return model, Vocab.from_json(cfg["vocab"]), cfg


def cmd_train(a: argparse.Namespace) -> int:
    from genseq.text.corpus import load_corpus
    from genseq.text.model import TextModel, TextModelConfig, count_parameters
    from genseq.text.task import TextTask
    from genseq.train.checkpoint import checkpoint_config
    from genseq.train.distributed import is_main
    from genseq.train.trainer import Trainer

    cfg = train_config(a)
    out = Path(a.out)
    if a.resume:
        saved = checkpoint_config(out / "checkpoint.safetensors", ("text",))["config"]
        from genseq.text.corpus import Vocab

        vocab = Vocab.from_json(saved["vocab"])
        corpus = load_corpus(a.data, a.format, vocab=vocab)
        model = TextModel.from_config(saved["model"])
        seq_len, batch = saved["seq_len"], saved["batch_size"]
    else:
        corpus = load_corpus(a.data, a.format)
        vocab = corpus.vocab
        if a.layers < 1 or a.hidden < 1 or a.seq_len < 1 or a.batch_size < 1:
            raise GenseqError("--layers, --hidden, --seq-len and --batch-size must be >= 1")
        embed = a.embed if a.embed >= 0 else (400 if vocab.level == "word" else 0)
        model = TextModel(
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
        seq_len, batch = a.seq_len, a.batch_size
    task = TextTask(corpus, batch, seq_len, eval_symbols=a.eval_symbols)
    extra = {
        "vocab": vocab.to_json(),
        "data_format": a.format,
        "seq_len": seq_len,
        "batch_size": batch,
    }
    say = print if is_main() else (lambda *a, **k: None)  # one report under torchrun
    say(
        f"genseq: {corpus.name}: {len(vocab)} symbols, train {len(corpus.train):,} / "
        f"valid {len(corpus.valid):,}; model {count_parameters(model):,} weights; "
        f"{task.num_batches():,} updates per epoch",
        file=sys.stderr,
    )
    trainer = Trainer(model, task, cfg, out, extra, progress=not a.no_progress)
    res = trainer.fit(resume=a.resume, lr=a.lr)
    say(
        f"genseq: {res['step']} updates, best valid {task.primary} {res['best']:.4f}; "
        f"model in {out}",
        file=sys.stderr,
    )
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from genseq.text.corpus import load_corpus
    from genseq.text.evaluate import evaluate

    model, vocab, cfg = _load_text_model(a.model)
    corpus = load_corpus(a.data, a.format, vocab=vocab)
    with autocast(a.precision):  # dynamic evaluation's backward follows the casts
        m = evaluate(
            model,
            corpus.split(a.split),
            vocab.level,
            a.batch_size or (1 if a.dynamic else 16),
            a.seq_len,
            dynamic=a.dynamic,
            dynamic_lr=a.dynamic_lr,
            progress=not a.json,
        )
    d = {"model": str(a.model), "split": a.split, "dynamic": a.dynamic, **m.as_dict()}
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
    from genseq.text.sample import sample

    model, vocab, _ = _load_text_model(a.model)
    out = sys.stdout
    out.write(a.prime)
    for s in sample(model, vocab, a.prime, a.length, a.temperature, a.seed):
        out.write(s)
        out.flush()
    out.write("\n")
    return 0
