"""The errors of the training machinery (genseq.train: trainer, distributed, noisy, optim,
registry, pretrained), each triggered through `genseq text train` or the Trainer / module
API, its message checked."""

from __future__ import annotations

import pytest
import torch

from genseq.text.task import TextTask
from genseq.train import distributed
from genseq.train.config import TrainConfig
from genseq.train.trainer import Trainer
from tests.conftest import text_train
from tests.text.test_corpus_errors import api_error, cli_error
from tests.train.test_trainer import make_corpus, make_model

TINY = "--hidden 5 --batch-size 2 --seq-len 10 --no-progress --threads 1"


def _task() -> TextTask:
    return TextTask(make_corpus(400), batch_size=2, seq_len=8)


# ---- trainer.py -----------------------------------------------------------------------------
def test_training_needs_a_limit(tiny_text_run, tmp_path, capsys):
    data, _ = tiny_text_run
    err = cli_error(capsys, text_train(data, tmp_path / "run", TINY))
    assert "give a limit: --steps, --epochs or --minutes" in err


def test_a_task_without_shards_cannot_train_over_processes(tmp_path, monkeypatch):
    class Unsharded:  # a Task that does not implement shard()
        def num_batches(self) -> int:
            return 1

    monkeypatch.setattr(distributed, "rank_world", lambda: (0, 2))
    err = api_error(Trainer, make_model(5), Unsharded(), TrainConfig(steps=1), tmp_path)
    assert "Unsharded cannot be sharded over processes" in err


# ---- distributed.py -------------------------------------------------------------------------
def test_distributed_outside_torchrun_says_how_to_run_it(tiny_text_run, tmp_path, monkeypatch,
                                                         capsys):  # fmt: skip
    data, _ = tiny_text_run
    for k in distributed.ENV:
        monkeypatch.delenv(k, raising=False)
    err = cli_error(capsys, text_train(data, tmp_path / "run", TINY + " --steps 1 --distributed"))
    assert (
        "--distributed needs torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT "
        "unset): run `torchrun --nproc_per_node=N -m genseq ... --distributed`"
    ) in err


def test_distributed_on_a_torch_without_it(tiny_text_run, tmp_path, monkeypatch, capsys):
    data, _ = tiny_text_run
    for k, v in zip(distributed.ENV, ("0", "1", "127.0.0.1", "29999"), strict=True):
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    err = cli_error(capsys, text_train(data, tmp_path / "run", TINY + " --steps 1 --distributed"))
    assert "this torch build has no torch.distributed" in err


# ---- noisy.py -------------------------------------------------------------------------------
def test_noise_groups_need_a_task_that_serves_them(tmp_path):
    class Ungrouped(TextTask):  # a Task without `group`: it cannot serve a group's rows
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            del self.group

    cfg = TrainConfig(steps=1, weight_noise=0.01, noise_groups=2, eval_every=100)
    tr = Trainer(make_model(len(make_corpus(400).vocab)), Ungrouped(make_corpus(400), 2, 8), cfg,
                 tmp_path, progress=False)  # fmt: skip
    err = api_error(tr.fit)
    assert "Ungrouped cannot draw weight noise per group" in err


@pytest.mark.parametrize("noise", [{"noise_groups": 2}, {"adaptive_noise": 1.0}])
def test_noise_groups_and_adaptive_noise_are_single_process(noise):
    from genseq.train.noisy import adaptive_noise

    err = api_error(adaptive_noise, make_model(5), TrainConfig(steps=1, **noise), 2)
    assert "--noise-groups > 1 and --adaptive-noise do not run with --distributed" in err


# ---- optim.py, registry.py, pretrained.py ---------------------------------------------------
def test_an_unknown_optimizer_is_named(tmp_path):
    cfg = TrainConfig(steps=1, optimizer="lion")
    err = api_error(Trainer, make_model(5), _task(), cfg, tmp_path)
    assert "unknown optimizer 'lion' (choose from adam, rmsprop-graves, sgd)" in err


def test_an_unknown_model_kind_lists_the_known_ones():
    from genseq.train.registry import model_class, model_kinds

    err = api_error(model_class, "poem")
    assert f"unknown model kind 'poem' (known: {', '.join(model_kinds())})" in err


def test_only_a_run_directory_is_exported(tmp_path):
    from genseq.train.pretrained import export_model, shipped_names

    name = shipped_names()[0]
    err = api_error(export_model, name, "again", {}, folder=tmp_path)
    assert f"{name}: give a run directory to export" in err
    assert not list(tmp_path.iterdir())
