"""The one-call Python API (`genseq.load`, `genseq.write`, `genseq.styles`, `Style`) and the
shipped models (`genseq/pretrained/NAME.*`, `--model NAME`, `genseq models`), on tiny nets."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import numpy as np
import pytest
import torch

import genseq
from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.model import SynthesisConfig, SynthesisNet
from genseq.hand.strokes import NormStats
from genseq.train import pretrained
from genseq.train.checkpoint import load_model, save_model
from genseq.train.pretrained import export_model

README = Path(__file__).resolve().parents[2] / "README.md"
RECORD = {"updates": 4, "hours": 0.001, "valid": {"nats": -12.5, "sse": 0.25}, "commit": "x"}


def tiny_printable_synth(run: Path) -> Path:
    """An untrained 2 x 8 SynthesisNet over printable ASCII: writes any English text."""
    alphabet = Alphabet.from_texts([string.ascii_letters + string.digits + " .,'!?-"])
    torch.manual_seed(0)
    net = SynthesisNet(SynthesisConfig(alphabet.size, hidden_size=8, num_layers=2,
                                       n_mixtures=2, n_window=2))  # fmt: skip
    norm = NormStats((0.5, -0.2), (30.0, 35.0)).to_json()
    save_model(run, net, {"alphabet": alphabet.to_json(), "norm": norm})
    return run


@pytest.fixture
def shipped(tmp_path, monkeypatch, tiny_synth):
    """A pretrained folder holding `synth` (the tiny trained net) and `printable`."""
    folder = tmp_path / "pretrained"
    export_model(tiny_synth, "synth", RECORD, folder)
    export_model(tiny_printable_synth(tmp_path / "printable"), "printable", {}, folder)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", folder)
    return folder


def readme_python() -> str:
    """The code block of the README's "Python" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    """Exactly the README's snippet; with a tiny stand-in for `synth` until one is shipped."""
    if "synth" not in pretrained.shipped_names():
        folder = tmp_path / "pretrained"
        export_model(tiny_printable_synth(tmp_path / "run"), "synth", RECORD, folder)
        monkeypatch.setattr(pretrained, "PRETRAINED_DIR", folder)
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_python(), str(README), "exec"), {})
    assert Path("hello.svg").read_text().startswith("<svg")
    assert Path("styled.png").read_bytes()[:4] == b"\x89PNG"


def test_shipped_weights_are_half_and_load_as_float32(shipped, tiny_synth):
    from safetensors import safe_open

    with safe_open(str(shipped / "synth.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    cfg = json.loads((shipped / "synth.json").read_text())
    assert (
        cfg["record"] == RECORD
        and cfg["model"] == json.loads((tiny_synth / "config.json").read_text())["model"]
    )
    net, _ = load_model("synth")
    run, _ = load_model(tiny_synth)
    for (k, a), (_, b) in zip(net.state_dict().items(), run.state_dict().items(), strict=True):
        assert a.dtype == torch.float32, k
        torch.testing.assert_close(a, b.half().float(), rtol=0, atol=0)


def test_load_by_name_or_directory_is_cached(shipped, tiny_synth, tiny_predict):
    m = genseq.load("synth")
    assert isinstance(m, genseq.HandModel) and m.alphabet is not None
    assert genseq.load("synth") is m  # no reload
    assert genseq.load(tiny_synth) is not m  # another file, another model
    assert genseq.load(str(tiny_predict)).alphabet is None
    with pytest.raises(GenseqError, match="not a directory, nor a shipped"):
        genseq.load("nonesuch")
    with pytest.raises(GenseqError, match="not a synthesis model"):
        genseq.write("to be", model=tiny_predict)


def test_write_returns_a_page_that_saves_every_format(shipped, tmp_path):
    page = genseq.write("to be made at a meeting", width=10, bias=0.5, seed=3)
    again = genseq.write("to be made at a meeting", width=10, bias=0.5, seed=3)
    assert page.lines == ["to be made", "at a", "meeting"]
    np.testing.assert_array_equal(page.points, again.points)  # the seed decides
    assert page.points.shape[1] == 3 and len(page.strokes) >= 1
    assert all(s.shape[1] == 2 for s in page.strokes)
    assert page.svg().startswith("<svg") and page.svg().count("<path") == len(page.strokes)
    for name, fmt, head in [("a.svg", None, b"<svg"), ("a.png", None, b"\x89PNG"),
                            ("p.svg", "plotter", b"<svg"), ("a.gcode", None, b"G21"),
                            ("b.nc", "gcode", b"G21")]:  # fmt: skip
        assert page.save(tmp_path / name, fmt).read_bytes().startswith(head), name
    with pytest.raises(GenseqError, match="cannot draw"):
        page.save(tmp_path / "a.bmp")
    with pytest.raises(GenseqError, match="width"):
        genseq.write("to be", width=0)


def test_write_precision_reaches_the_sampler(shipped, tmp_path, monkeypatch):
    """`precision` (API) / `--precision` (CLI) picks the sampler's GEMMs; fp32 is the default,
    bf16 writes the same lines (other strokes for a seed: bf16 rounding)."""
    seen: list[str] = []
    orig = SynthesisNet.synthesize

    def spy(self, *a, **k):
        seen.append(k["precision"])
        return orig(self, *a, **k)

    monkeypatch.setattr(SynthesisNet, "synthesize", spy)
    page = genseq.write("to be made", seed=3)
    assert seen == ["fp32"]
    fast = genseq.write("to be made", seed=3, precision="bf16")
    assert seen[-1] == "bf16" and fast.lines == page.lines and len(fast.points) > 0
    out = tmp_path / "a.svg"
    assert main(["write", "to be made", "--precision", "bf16", "-o", str(out)]) == 0
    assert seen[-1] == "bf16" and out.read_text().count("<path") >= 1


def test_styles_are_style_objects(shipped):
    built_in = genseq.styles()
    assert built_in and all(isinstance(s, genseq.Style) for s in built_in)
    page = genseq.write("to be made", model="printable", style=built_in[0], seed=0)
    assert len(page.points)
    line = [[[0, 0], [0, 40]], [[15, 0], [15, 40], [20, 45]]]  # two strokes, y down
    mine = genseq.Style.from_strokes(line, "ll")
    flat = [[0, 0, 0], [0, 40, 1], [15, 0, 0], [15, 40, 0], [20, 45, 1]]  # [x, y, eos]
    stats = genseq.load("printable").stats
    np.testing.assert_allclose(
        mine.offsets_for(stats), genseq.Style.from_strokes(flat, "ll").offsets_for(stats)
    )
    assert len(genseq.write("hello", model="printable", style=mine, seed=1).points)
    with pytest.raises(GenseqError, match="no text"):
        genseq.Style.from_strokes(line, "  ")
    with pytest.raises(GenseqError, match="cannot read"):
        genseq.write("to be", style=genseq.Style.from_strokes(line, "§"))


def test_genseq_models_lists_the_shipped_ones(shipped, tmp_path, monkeypatch, capsys):
    capsys.readouterr()
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "synth: synth 2 x 16" in out and "valid.nats -12.5" in out and "updates 4" in out
    assert "printable: synth 2 x 8" in out and "(no training record)" in out
    assert main(["models", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"printable", "synth"} and d["synth"]["record"] == RECORD
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "empty")
    assert main(["models"]) == 0
    assert "no models are shipped" in capsys.readouterr().out


def test_model_names_on_the_command_line(shipped, tiny_cache, tmp_path, capsys):
    out = tmp_path / "w.svg"
    assert main(["write", "to be", "-o", str(out), "--seed", "1"]) == 0  # default: synth
    assert out.read_text().startswith("<svg")
    capsys.readouterr()
    assert main(["hand", "eval", "--model", "synth", "--data", str(tiny_cache), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "synth"
    assert main(["hand", "sample", "--model", "synth", "-o", str(tmp_path / "s.png")]) == 2
    assert "prediction model" in capsys.readouterr().err


def test_write_without_a_shipped_synth_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "empty")
    capsys.readouterr()
    assert main(["write", "hello", "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'synth'" in err and "shipped" in err
