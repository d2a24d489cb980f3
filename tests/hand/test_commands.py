"""`genseq hand train|eval|sample` and `genseq write` end to end on a generated archive."""

import json

import pytest

from genseq.cli import main

from .conftest import train_tiny


@pytest.fixture
def cache(tiny_cache):
    return tiny_cache


@pytest.fixture
def synth(tiny_synth):
    return tiny_synth


def _train(cache, out, task, *extra):
    return train_tiny(cache, out, task, *extra)


def test_predict_train_eval_sample(cache, tmp_path, capsys):
    out = tmp_path / "pred"
    assert _train(cache, out, "predict", "--crop-len", "40") == 0
    capsys.readouterr()
    assert main(["hand", "eval", "--model", str(out), "--data", str(cache), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"nats", "sse", "sequences", "points"} <= set(d) and d["sequences"] > 0
    png = tmp_path / "s.png"
    assert (
        main(
            ["hand", "sample", "--model", str(out), "--steps", "30", "-o", str(png), "--seed", "1"]
        )
        == 0
    )
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_synth_resume_continues(cache, synth, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(synth, run)
    assert (
        main(
            [
                "hand",
                "train",
                "--task",
                "synth",
                "--data",
                str(cache),
                "--out",
                str(run),
                "--steps",
                "6",
                "--resume",
                "--no-progress",
            ]
        )
        == 0
    )
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 6


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("chunk_len", -1, "has chunk_len = -1: not an integer >= 0"),
        ("batch_size", "32", "has batch_size = '32': not an integer >= 1"),
        ("oversample", 8, "has oversample = 8: not text"),
    ],
)
def test_synth_resume_refuses_damaged_data_settings(
    cache, synth, tmp_path, capsys, key, value, says
):
    import shutil

    from tests.train.test_state import _edit_meta

    run = tmp_path / "run"
    shutil.copytree(synth, run)
    _edit_meta(run / "checkpoint.safetensors", lambda r: r["config"].__setitem__(key, value))
    capsys.readouterr()
    argv = ["hand", "train", "--task", "synth", "--data", str(cache), "--out", str(run),
            "--steps", "6", "--resume", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint in {run} {says}" in err and "Traceback" not in err


def test_synth_chunked_training_and_resume(cache, tmp_path, capsys):
    """--chunk-len: TBPTT over whole lines; the setting is saved and kept on --resume."""
    from tests.hand.conftest import train_tiny

    out = tmp_path / "chunked"
    capsys.readouterr()
    assert train_tiny(cache, out, "synth", "--chunk-len", "7") == 0
    said = capsys.readouterr().err
    per_epoch = int(said.split(" updates per epoch")[0].rsplit(" ", 1)[1].replace(",", ""))
    _, whole = train_tiny(cache, tmp_path / "whole", "synth"), capsys.readouterr().err
    assert per_epoch > int(whole.split(" updates per epoch")[0].rsplit(" ", 1)[1].replace(",", ""))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["chunk_len"] == 7
    argv = ["hand", "train", "--task", "synth", "--data", str(cache), "--out", str(out),
            "--steps", "6", "--no-progress"]  # fmt: skip
    assert main([*argv, "--resume"]) == 0
    assert f"{per_epoch:,} updates per epoch" in capsys.readouterr().err
    bad = ["hand", "train", "--task", "synth", "--data", str(cache), "--out",
           str(tmp_path / "bad"), "--steps", "1", "--chunk-len", "-1"]  # fmt: skip
    assert main(bad) == 2
    assert "--chunk-len must be >= 0" in capsys.readouterr().err


def test_synth_oversample_is_saved_and_kept_on_resume(cache, tmp_path, capsys):
    """--oversample REGEX=K: matching lines K times an epoch (more updates), kept on --resume."""
    out = tmp_path / "over"
    capsys.readouterr()
    assert train_tiny(cache, out, "synth", "--oversample", "Peers=5") == 0
    per_epoch = capsys.readouterr().err.split(" updates per epoch")[0].rsplit(" ", 1)[1]
    _, plain = train_tiny(cache, tmp_path / "plain", "synth"), capsys.readouterr().err
    assert int(per_epoch) > int(plain.split(" updates per epoch")[0].rsplit(" ", 1)[1])
    assert json.loads((out / "config.json").read_text())["oversample"] == "Peers=5"
    argv = ["hand", "train", "--task", "synth", "--data", str(cache), "--out", str(out),
            "--steps", "6", "--no-progress", "--resume"]  # fmt: skip
    assert main(argv) == 0
    assert f"{per_epoch} updates per epoch" in capsys.readouterr().err
    bad = ["hand", "train", "--task", "synth", "--data", str(cache), "--out",
           str(tmp_path / "bad"), "--steps", "1", "--oversample", "zebra=3"]  # fmt: skip
    assert main(bad) == 2
    assert "--oversample: no train line matches 'zebra'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "suffix,fmt", [("svg", "auto"), ("png", "auto"), ("svg", "plotter"), ("gcode", "gcode")]
)
def test_write_formats(synth, tmp_path, suffix, fmt):
    out = tmp_path / f"w.{suffix}"
    text = "a simple line that reads on and on and on"
    assert (
        main(
            [
                "write",
                text,
                "--model",
                str(synth),
                "-o",
                str(out),
                "--width",
                "12",
                "--seed",
                "2",
                "--format",
                fmt,
            ]
        )
        == 0
    )
    data = out.read_bytes()
    if fmt == "plotter":
        assert data.count(b"<path") == 1
    elif suffix == "svg":
        assert data.count(b"<path") >= 1
    elif suffix == "gcode":
        assert b"G1" in data
    else:
        assert data[:4] == b"\x89PNG"


def _one_line_error(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:")
    return err


def test_write_unsupported_characters_named(synth, tmp_path, capsys):
    err = _one_line_error(
        capsys,
        ["write", "héllo §", "--strict", "--model", str(synth), "-o", str(tmp_path / "x.svg")],
    )
    assert "'§'" in err and "'é'" in err  # --strict: no folding, every character named


def test_user_errors(synth, cache, tmp_path, capsys):
    _one_line_error(capsys, ["write", "  ", "--model", str(synth), "-o", str(tmp_path / "x.svg")])
    _one_line_error(capsys, ["write", "hi", "--model", str(synth), "-o", str(tmp_path / "x.bmp")])
    _one_line_error(capsys, ["write", "hi", "--model", str(tmp_path / "none"), "-o", "x.svg"])
    _one_line_error(
        capsys, ["hand", "sample", "--model", str(synth), "-o", str(tmp_path / "a.png")]
    )
    train = f"hand train --task synth --out {tmp_path / 'm'} --steps 1 --data"
    _one_line_error(capsys, f"{train} {tmp_path / 'no.npz'}".split())
    _one_line_error(capsys, f"{train} {cache} --crop-len 50".split())
