"""The errors of genseq.train.checkpoint and genseq.train.validate: a run directory, a
config.json or a training checkpoint that is not what it should be is one clear line from
`genseq text ...`, never a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from genseq.limits import MAX_CONFIG_BYTES
from tests.conftest import text_train
from tests.text.test_corpus_errors import cli_error

SAMPLE = ["text", "sample", "--length", "5", "--model"]


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def edit_config(d: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """config.json of run directory `d` changed in place by `change(cfg)`."""
    cfg = json.loads((d / "config.json").read_text())
    change(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def edit_checkpoint(d: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """The genseq metadata of `d`/checkpoint.safetensors changed by `change(meta)`."""
    ck = d / "checkpoint.safetensors"
    with safe_open(ck, "pt") as f:
        raw = f.metadata()
    meta = json.loads(raw["genseq"])
    change(meta)
    save_file(load_file(ck), ck, {**raw, "genseq": json.dumps(meta)})


def resume_error(capsys, data: Path, d: Path) -> str:
    return cli_error(capsys, text_train(data, d, "--resume --steps 3 --no-progress --threads 1"))


# ---- checkpoint.py --------------------------------------------------------------------------
def test_a_file_the_disk_refuses_is_one_line_and_the_run_stops(tmp_path, capsys):
    """config.json cannot replace a folder of that name: the write error, not an OSError."""
    data = tmp_path / "toy.txt"
    data.write_text("the cat sat on a mat. " * 50)
    (tmp_path / "run" / "config.json").mkdir(parents=True)
    flags = "--hidden 5 --batch-size 2 --seq-len 10 --steps 1 --no-progress --threads 1"
    err = cli_error(capsys, text_train(data, tmp_path / "run", flags))
    assert f"cannot write {tmp_path / 'run' / 'config.json'} (Is a directory)" in err
    assert "; its previous version, if any, is kept" in err


def test_an_out_directory_under_a_file_is_one_line(tmp_path, capsys):
    """Was a NotADirectoryError traceback from the trainer's mkdir."""
    data = tmp_path / "toy.txt"
    data.write_text("the cat sat on a mat. " * 50)
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "run"
    err = cli_error(capsys, text_train(data, out, "--hidden 5 --steps 1 --no-progress"))
    assert f"cannot make the run directory {out} (Not a directory)" in err


def test_resume_from_a_checkpoint_without_a_step(tiny_text_run, tmp_path, capsys):
    data, run = tiny_text_run
    d = copy_run(run, tmp_path / "d")
    edit_checkpoint(d, lambda m: m.pop("step"))
    err = resume_error(capsys, data, d)
    assert f"{d / 'checkpoint.safetensors'} is not a genseq training checkpoint" in err


def test_resume_from_a_checkpoint_without_its_model_config(tiny_text_run, tmp_path, capsys):
    data, run = tiny_text_run
    d = copy_run(run, tmp_path / "d")
    edit_checkpoint(d, lambda m: m["config"].update(model=[5]))
    err = resume_error(capsys, data, d)
    assert f"{d / 'checkpoint.safetensors'}: its model config is missing or malformed" in err


def test_an_oversized_config_is_refused_before_it_is_read(tiny_text_run, tmp_path, capsys):
    d = copy_run(tiny_text_run[1], tmp_path / "d")
    edit_config(d, lambda c: c.update(padding="x" * MAX_CONFIG_BYTES))
    err = cli_error(capsys, [*SAMPLE, str(d)])
    assert f"{d / 'config.json'} is over {MAX_CONFIG_BYTES:,} bytes: not a genseq config" in err


@pytest.mark.parametrize(
    "change",
    [lambda c: c.update(kind="poem"), lambda c: c.pop("model"), lambda c: c.clear()],
)
def test_a_config_of_no_known_model_is_refused(change, tiny_text_run, tmp_path, capsys):
    d = edit_config(copy_run(tiny_text_run[1], tmp_path / "d"), change)
    err = cli_error(capsys, [*SAMPLE, str(d)])
    assert f"{d / 'config.json'} does not describe a genseq model" in err


def test_init_from_a_model_of_another_config_names_the_difference(tiny_text_run, tmp_path, capsys):
    data, run = tiny_text_run
    flags = f"--init-from {run} --hidden 6 --batch-size 2 --seq-len 10 --steps 1 --no-progress"
    err = cli_error(capsys, text_train(data, tmp_path / "new", flags))
    assert f"cannot start from {run}: its model config differs (hidden_size 5 there, 6 here)" in err


# ---- validate.py ----------------------------------------------------------------------------
def test_a_model_config_that_is_not_an_object(tiny_text_run, tmp_path, capsys):
    d = edit_config(copy_run(tiny_text_run[1], tmp_path / "d"), lambda c: c.update(model=[5]))
    err = cli_error(capsys, [*SAMPLE, str(d)])
    assert f"{d / 'config.json'} must be a JSON object, got list" in err


@pytest.mark.parametrize(
    "key, value, why",
    [
        ("hidden_size", "big", "hidden_size must be an integer, got 'big'"),
        ("hidden_size", 0, "hidden_size must be between 1 and 1,048,576, got 0"),
        ("dropout", 1.5, "dropout must be in [0, 1), got 1.5"),
        ("peepholes", 1, "peepholes must be true or false, got 1"),
    ],
)
def test_a_model_config_value_of_the_wrong_type_or_range(
    key, value, why, tiny_text_run, tmp_path, capsys
):
    d = edit_config(
        copy_run(tiny_text_run[1], tmp_path / "d"), lambda c: c["model"].update({key: value})
    )
    err = cli_error(capsys, [*SAMPLE, str(d)])
    assert f"{d / 'config.json'}: {why}" in err


def test_a_vocabulary_without_symbols(tiny_text_run, tmp_path, capsys):
    d = edit_config(copy_run(tiny_text_run[1], tmp_path / "d"), lambda c: c["vocab"].pop("symbols"))
    err = cli_error(capsys, [*SAMPLE, str(d)])
    assert f"{d / 'config.json'}: malformed alphabet or vocabulary (KeyError('symbols'))" in err


def test_a_vocabulary_of_another_size_than_the_model_reads(tiny_text_run, tmp_path, capsys):
    d = copy_run(tiny_text_run[1], tmp_path / "d")
    n = len(json.loads((d / "config.json").read_text())["vocab"]["symbols"])
    edit_config(d, lambda c: c["vocab"].update(symbols=c["vocab"]["symbols"][:-1]))
    err = cli_error(capsys, [*SAMPLE, str(d)])
    want = f"its vocabulary has {n - 1} symbols (padding included) but the model reads {n}"
    assert f"{d / 'config.json'}: {want}" in err


@pytest.mark.parametrize("flag", ["--lr", "--clip", "--lr-decay"])
def test_a_training_setting_that_is_not_finite(flag, tiny_text_run, tmp_path, capsys):
    data, _ = tiny_text_run
    err = cli_error(capsys, text_train(data, tmp_path / "run", f"--hidden 5 --steps 1 {flag} nan"))
    assert f"{flag} must be a finite number, got nan" in err


def test_atomic_writes_get_the_mode_a_plain_write_gets(tmp_path):
    """mkstemp makes its file 0600; a published JSON or weights file must be as readable as
    one open() writes (0644 under umask 022), or a shipped model's JSON stays private."""
    import os

    from genseq.train.checkpoint import atomic_write_text

    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    atomic_write_text(tmp_path / "atomic.json", "{}")
    mode = os.stat(tmp_path / "atomic.json").st_mode & 0o777
    assert mode == os.stat(plain).st_mode & 0o777
