"""The errors of `genseq text eval|sample` (genseq.cli.text), of dynamic evaluation
(genseq.text.dynamic), of LanguageModel.trace (genseq.text.model) and of TextTask's data
parallel shards (genseq.text.task), each triggered and its message checked."""

from __future__ import annotations

import pytest

from genseq.errors import GenseqError
from genseq.text.model import load_text_model
from tests.text.test_corpus_errors import cli_error


def _eval(run, data, flags: str) -> list[str]:
    return ["text", "eval", "--model", str(run), "--data", str(data), "--seq-len", "10",
            "--tune-symbols", "20", *flags.split()]  # fmt: skip


def test_eval_dynamic_rate_and_momentum_are_in_range(tiny_text_run, capsys):
    data, run = tiny_text_run
    for flags in ("--dynamic --dynamic-lr -1", "--dynamic --dynamic-lr 0.1 --dynamic-momentum 1"):
        err = cli_error(capsys, _eval(run, data, flags))
        assert "--dynamic-lr must be >= 0 and --dynamic-momentum in [0, 1)" in err


def test_eval_dynamic_rates_tried_are_non_negative(tiny_text_run, capsys):
    data, run = tiny_text_run
    err = cli_error(capsys, _eval(run, data, "--dynamic --dynamic-rates 0.1 -0.5"))
    assert "dynamic evaluation rates must be >= 0 (give at least one)" in err
    err = cli_error(capsys, _eval(run, data, "--dynamic --dynamic-rates nan"))
    assert "dynamic evaluation rates must be >= 0 (give at least one)" in err


def test_eval_dynamic_momentum_of_the_rate_search_is_in_range(tiny_text_run, capsys):
    data, run = tiny_text_run
    err = cli_error(capsys, _eval(run, data, "--dynamic --dynamic-momentum 1.5"))
    assert "--dynamic-momentum must be in [0, 1), got 1.5" in err


def test_sample_without_a_model_needs_the_shipped_default(monkeypatch, capsys):
    import genseq.cli.text as cli_text

    monkeypatch.setattr(cli_text, "DEFAULT_MODEL", "no-such-shipped-model")
    err = cli_error(capsys, ["text", "sample", "--length", "5"])
    assert (
        "no --model given and the default text model 'no-such-shipped-model' is not shipped "
        "in this install: give --model RUN_DIR (a `genseq text train` output)"
    ) in err


def test_trace_of_empty_text_is_refused(tiny_text_run):
    m = load_text_model(tiny_text_run[1])
    assert m.trace("the")[0].hidden.shape[1] == 3
    with pytest.raises(GenseqError) as e:
        m.trace("")
    assert "nothing to trace: the text is empty" in str(e.value)


def test_more_processes_than_streams_is_refused(tiny_text_run, tmp_path, monkeypatch):
    """Under torchrun, each process trains on at least one stream of the batch."""
    from genseq.text.corpus import load_corpus
    from genseq.text.task import TextTask
    from genseq.train import distributed
    from genseq.train.config import TrainConfig
    from genseq.train.trainer import Trainer

    data, run = tiny_text_run
    m = load_text_model(run)
    task = TextTask(load_corpus(data, vocab=m.vocab), batch_size=2, seq_len=10)
    monkeypatch.setattr(distributed, "rank_world", lambda: (0, 3))
    with pytest.raises(GenseqError) as e:
        Trainer(m.net, task, TrainConfig(steps=1), tmp_path, progress=False)
    assert "3 processes need --batch-size >= 3" in str(e.value)
