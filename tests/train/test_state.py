"""A checkpoint's carried TBPTT state is checked when it is loaded (genseq.train.state): a
damaged or foreign carry is one clear error, never an IndexError at the next step."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.train.state import check_carry
from tests.conftest import text_train
from tests.hand.test_task import FakeBatches, make

Z = torch.zeros


# ---- check_carry on its own ---------------------------------------------------------------------
def test_a_carry_as_recorded_and_expected_passes():
    carry = {"h": Z(1, 2, 5), "c": Z(1, 2, 5)}
    shapes = {"h": (1, 2, 5), "c": (1, 2, 5)}
    check_carry(carry, {k: list(v) for k, v in shapes.items()}, shapes, "ck")
    check_carry(carry, None, None, "ck")  # an older checkpoint, a task that does not say


def test_a_carry_unlike_its_record_is_refused():
    """The hypothesis case: carry.c's header shape (2, 5) where (1, 2, 5) was saved."""
    carry = {"h": Z(1, 2, 5), "c": Z(2, 5)}
    with pytest.raises(GenseqError, match=r"ck does not fit this run: .*c \(2, 5\).*saved"):
        check_carry(carry, {"h": [1, 2, 5], "c": [1, 2, 5]}, None, "ck")


def test_a_carry_with_two_batch_sizes_is_refused():
    with pytest.raises(GenseqError, match="no single batch size"):
        check_carry({"h": Z(1, 2, 5), "c": Z(1, 3, 5)}, None, None, "ck")


def test_a_scalar_or_integer_carry_is_refused():
    with pytest.raises(GenseqError, match="no single batch size"):
        check_carry({"h": Z(())}, None, None, "ck")
    with pytest.raises(GenseqError, match="torch.int64"):
        check_carry({"h": torch.zeros(1, 2, 5, dtype=torch.long)}, None, None, "ck")


def test_a_carry_the_task_does_not_read_is_refused():
    with pytest.raises(GenseqError, match=r"this run carries c \(1, 2, 5\), h \(1, 2, 5\)"):
        check_carry(
            {"h": Z(1, 2, 6), "c": Z(1, 2, 6)}, None, {"h": (1, 2, 5), "c": (1, 2, 5)}, "ck"
        )


def test_a_damaged_record_is_refused():
    with pytest.raises(GenseqError, match="carry record is damaged"):
        check_carry({"h": Z(1, 2, 5)}, [1, 2, 5], None, "ck")


# ---- the task says what it carries --------------------------------------------------------------
@pytest.mark.parametrize("kind", ["predict", "synth"])
def test_hand_task_carry_shapes_are_those_its_loss_carries(kind):
    """carry_shapes(step) equals the shapes of the carry the step before returned, inside a
    batch; a batch's first chunk reads none, and without TBPTT no step does."""
    from genseq.hand.task import HandTask

    model = make(kind)
    task = HandTask(FakeBatches(n=2, B=3, T=9), chunk_len=4, chunks_per_batch=3)
    _, _, carry = task.loss(model, 0, 0, None)
    assert task.carry_shapes(model, 0, 1) == {k: tuple(v.shape) for k, v in carry.items()}
    assert task.carry_shapes(model, 0, 3) is None  # batch 1, chunk 0
    assert HandTask(FakeBatches()).carry_shapes(model, 0, 1) is None


def test_text_task_carry_shapes_are_those_its_loss_carries(tmp_path):
    """Text streams carry (h, c) of every layer from one step to the next; an epoch's first
    step reads none; under data parallelism the checkpoint holds every rank's streams."""
    from genseq.text.corpus import load_corpus
    from genseq.text.model import TextModel, TextModelConfig
    from genseq.text.task import TextTask

    (tmp_path / "c.txt").write_text("abcabdabe " * 40)
    corpus = load_corpus(tmp_path / "c.txt")
    model = TextModel(TextModelConfig(len(corpus.vocab), hidden_size=6, num_layers=2))
    task = TextTask(corpus, batch_size=5, seq_len=7)
    _, _, carry = task.loss(model, 0, 0, None)
    assert task.carry_shapes(model, 0, 1) == {k: tuple(v.shape) for k, v in carry.items()}
    assert task.carry_shapes(model, 1, 0) is None
    task.shard(1, 2)  # rank 1 of 2 runs streams 3..4; the checkpoint gathers all 5
    assert task.carry_shapes(model, 0, 1) == {"h": (2, 5, 6), "c": (2, 5, 6)}


# ---- through `genseq text train --resume` -------------------------------------------------------
def _edit_meta(ck: Path, edit, tensors: dict | None = None) -> None:
    """Rewrite checkpoint `ck` with edit(its genseq record) applied (and `tensors` if given)."""
    from safetensors import safe_open

    with safe_open(ck, "pt") as f:
        meta = f.metadata()
    inner = json.loads(meta["genseq"])
    edit(inner)
    save_file(tensors or load_file(ck), ck, {**meta, "genseq": json.dumps(inner)})


def _copy_run(run: Path, to: Path) -> Path:
    to.mkdir()
    for f in ("config.json", "model.safetensors", "checkpoint.safetensors"):
        (to / f).write_bytes((run / f).read_bytes())
    return to


def _reshape_in_header(path: Path, name: str, shape: list[int]) -> None:
    """Change one tensor's shape in the safetensors header only (same bytes, same record)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header[name]["shape"] = shape
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + raw[8 + n :])


def _resume(capsys, data: Path, run: Path) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(text_train(data, run, "--resume --steps 3 --no-progress --threads 1"))
    return rc, capsys.readouterr().err


def test_resume_refuses_a_carry_whose_shape_was_damaged(tiny_text_run, tmp_path, capsys):
    """hypothesis's reproduce_failure('6.170.17', b'AEEAQQZBAQ==') of test_fuzz.py: an
    IndexError inside torch.lstm before the check existed."""
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    _reshape_in_header(d / "checkpoint.safetensors", "carry.c", [2, 5])
    rc, err = _resume(capsys, data, d)
    assert rc == 2 and "Traceback" not in err
    (line,) = [s for s in err.splitlines() if s.startswith("genseq: error:")]
    assert "does not fit this run" in line and "c (2, 5)" in line


def test_resume_refuses_a_carry_of_another_batch_size(tiny_text_run, tmp_path, capsys):
    """Tensors and record rewritten together (a consistent foreign carry): the batch size
    disagrees between h and c."""
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    ck = d / "checkpoint.safetensors"
    tensors = {**load_file(ck), "carry.c": torch.zeros(1, 3, 5)}
    _edit_meta(ck, lambda r: r["carry_shapes"].__setitem__("c", [1, 3, 5]), tensors)
    rc, err = _resume(capsys, data, d)
    assert rc == 2 and "no single batch size" in err and "Traceback" not in err


def test_an_intact_checkpoint_still_resumes(tiny_text_run, tmp_path, capsys):
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    rc, err = _resume(capsys, data, d)
    assert rc == 0, err
    assert "3 updates" in err


def _set_group(key, value):
    return lambda r: r["optimizer"]["param_groups"][0].__setitem__(key, value)


@pytest.mark.parametrize(
    "edit, says",
    [  # hypothesis's reproduce_failure('6.170.17', b'AEEBQRVBA0EG') of test_fuzz.py: amsgrad
        # switched on in the record, a KeyError 'max_exp_avg_sq' inside Adam before the check
        (_set_group("amsgrad", True), "its optimizer state does not fit its settings"),
        (_set_group("betas", [0.9, 7.0]), "its optimizer settings do not run"),
        (_set_group("lr", "fast"), "its optimizer settings have the wrong types"),
        (lambda r: r["optimizer"]["scalars"].__setitem__("0.x", "y"), "counters are not numbers"),
    ],
)
def test_resume_refuses_optimizer_settings_its_state_does_not_fit(
    tiny_text_run, tmp_path, capsys, edit, says
):
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    _edit_meta(d / "checkpoint.safetensors", edit)
    rc, err = _resume(capsys, data, d)
    assert rc == 2 and says in err and "Traceback" not in err


def test_resume_refuses_a_checkpoint_without_its_data_settings(tiny_text_run, tmp_path, capsys):
    """The run's stream settings come from its checkpoint: one missing is one clear line."""
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    _edit_meta(d / "checkpoint.safetensors", lambda r: r["config"].pop("seq_len"))
    rc, err = _resume(capsys, data, d)
    assert rc == 2 and f"the checkpoint in {d} lacks seq_len" in err


@pytest.mark.parametrize("value", [None, "100", 0, True, 2.5])
def test_resume_refuses_a_data_setting_that_is_not_a_count(tiny_text_run, tmp_path, capsys, value):
    """hypothesis's reproduce_failure('6.170.17', b'AEEBQVVBAEEAQQA=') of test_fuzz.py: seq_len
    null in the record was a TypeError inside StreamBatches."""
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    _edit_meta(d / "checkpoint.safetensors", lambda r: r["config"].__setitem__("seq_len", value))
    rc, err = _resume(capsys, data, d)
    assert rc == 2 and "Traceback" not in err
    assert f"the checkpoint in {d} has seq_len = {value!r}: not an integer >= 1" in err


@pytest.mark.parametrize(
    "run, loss, norm",
    [([6.0, 3.0], 6.0, [0.0, 0.0, 0.0]),  # a checkpoint written before the norm was logged
     ([6.0, 3.0, 2.5, 2.0, 1.0], 6.0, [2.5, 2.0, 1.0])],
)  # fmt: skip
def test_the_log_window_is_restored_from_old_and_new_checkpoints(run, loss, norm):
    from types import SimpleNamespace

    from genseq.train.config import TrainConfig
    from genseq.train.state import _restore_counters

    tr = SimpleNamespace(cfg=TrainConfig(steps=5), task=None)
    _restore_counters(tr, {"step": 4, "best": 1.0, "bad_evals": 0, "run": run})
    assert (tr.run_loss, tr.run_units, tr.run_norm) == (loss, 3.0, norm)


def test_a_log_window_of_another_length_is_refused():
    from types import SimpleNamespace

    from genseq.train.config import TrainConfig
    from genseq.train.state import _restore_counters

    tr = SimpleNamespace(cfg=TrainConfig(steps=5), task=None)
    with pytest.raises(ValueError, match="holds 3 numbers"):
        _restore_counters(tr, {"step": 4, "best": 1.0, "bad_evals": 0, "run": [1.0, 2.0, 3.0]})


# ---- through the Trainer API -------------------------------------------------------------------
def _trainer(data: Path, d: Path, **cfg_kw):
    """A Trainer over the tiny run copied to `d`, built as `text train --resume` builds it."""
    from genseq.text.corpus import Vocab, load_corpus
    from genseq.text.model import TextModel
    from genseq.text.task import TextTask
    from genseq.train.config import TrainConfig
    from genseq.train.trainer import Trainer

    cfg = json.loads((d / "config.json").read_text())
    corpus = load_corpus(data, vocab=Vocab.from_json(cfg["vocab"]))
    model = TextModel.from_config(cfg["model"])
    task = TextTask(corpus, cfg["batch_size"], cfg["seq_len"])
    return Trainer(model, task, TrainConfig(**{"steps": 3, **cfg_kw}), d, progress=False)


def test_trainer_resumes_only_a_training_checkpoint(tiny_text_run, tmp_path):
    """`text train --resume` checks the checkpoint first; the Trainer checks it too."""
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    ck = d / "checkpoint.safetensors"
    _edit_meta(ck, lambda r: r.pop("step"))
    with pytest.raises(GenseqError) as e:
        _trainer(data, d).fit(resume=True)
    assert f"{ck} is not a genseq training checkpoint" in str(e.value)


def test_trainer_resumes_with_a_positive_rate_only(tiny_text_run, tmp_path):
    data, run = tiny_text_run
    d = _copy_run(run, tmp_path / "d")
    for lr in (0.0, -1e-3):
        with pytest.raises(GenseqError) as e:
            _trainer(data, d).fit(resume=True, lr=lr)
        assert f"--lr must be > 0, got {lr}" in str(e.value)


def test_an_integer_carry_is_named_with_its_dtype():
    with pytest.raises(GenseqError) as e:
        check_carry({"h": torch.zeros(1, 2, 5, dtype=torch.long)}, None, None, "ck")
    assert "ck does not fit this run: carried 'h' is torch.int64" in str(e.value)
