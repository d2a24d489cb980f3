"""Safe loading and bounds: no pickle anywhere, configs validated against the model's
dataclass, mismatched checkpoints refused with one clear error, every user-sized input
limited (genseq/limits.py), and the CI switch that turns a missing-data skip into a failure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from genseq import limits
from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.model import SynthesisConfig, SynthesisNet
from genseq.hand.strokes import NormStats
from genseq.text.corpus import Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.train.checkpoint import load_model, save_model
from tests.conftest import text_train

PACKAGE = Path(__file__).resolve().parents[1] / "genseq"
UNSAFE = re.compile(
    r"\bimport\s+(c?pickle|dill|joblib|shelve|marshal)\b|\bfrom\s+(c?pickle|dill|joblib)\s+import"
    r"|\bpickle\.\w+\(|torch\.load\(|torch\.jit\.load\(|allow_pickle\s*=\s*True|weights_only\s*="
)


def test_no_pickle_anywhere_in_the_package():
    found = []
    for p in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if UNSAFE.search(line):
                found.append(f"{p.relative_to(PACKAGE.parent)}:{n}: {line.strip()}")
            if re.search(r"\bnp\.load\(", line) and "allow_pickle=False" not in line:
                found.append(
                    f"{p.relative_to(PACKAGE.parent)}:{n}: np.load without allow_pickle=False"
                )
    assert not found, "\n".join(found)


def test_a_pickled_model_file_is_refused_and_never_run(tmp_path):
    """A torch.save (pickle) file posing as model.safetensors: one error, its code not run."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    d = tmp_path / "m"
    vocab = Vocab.build("abc", "char")
    save_model(d, TextModel(TextModelConfig(len(vocab), hidden_size=4)), {"vocab": vocab.to_json()})
    torch.save({"x": Evil()}, d / "model.safetensors")
    with pytest.raises(GenseqError, match="not a valid genseq safetensors file"):
        load_model(d)
    assert not marker.exists()


# ---- configs validated against the dataclass ---------------------------------------------------


@pytest.fixture
def text_dir(tmp_path) -> Path:
    vocab = Vocab.build("the cat", "char")
    d = tmp_path / "text"
    save_model(d, TextModel(TextModelConfig(len(vocab), hidden_size=4)), {"vocab": vocab.to_json()})
    return d


def _with_model(d: Path, **change) -> None:
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"].update(change)
    for k, v in change.items():
        if v is None:
            del cfg["model"][k]
    (d / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "unknown keys: 'colour'"),
        ({"vocab_size": None}, "lacks vocab_size"),
        ({"hidden_size": "400"}, "hidden_size must be an integer"),
        ({"hidden_size": 4.0}, "hidden_size must be an integer"),
        ({"peepholes": 1}, "peepholes must be true or false"),
        ({"num_layers": True}, "num_layers must be an integer"),
        ({"dropout": 1.5}, r"dropout must be in \[0, 1\)"),
        ({"lstm_grad_clip": -1}, "lstm_grad_clip must be >= 0"),
        ({"lstm_grad_clip": 1e308}, r"lstm_grad_clip must be within ±1e\+06"),
        ({"hidden_size": 0}, "hidden_size must be between 1 and"),
        ({"num_layers": 10_000}, "num_layers must be between 1 and 64"),
        ({"hidden_size": 10**12}, "hidden_size must be between 1 and 1,048,576"),
        ({"hidden_size": 2**20, "num_layers": 8}, "weights, over the limit of 2,000,000,000"),
    ],
)
def test_a_bad_config_is_one_clear_error(text_dir, change, message):
    _with_model(text_dir, **change)
    with pytest.raises(GenseqError, match=message):
        load_model(text_dir)


def test_a_non_finite_number_in_a_config_is_refused(text_dir):
    text = (text_dir / "config.json").read_text().replace('"dropout": 0.0', '"dropout": NaN')
    (text_dir / "config.json").write_text(text)
    with pytest.raises(GenseqError, match="dropout must be a finite number"):
        load_model(text_dir)


def test_config_json_size_limit(text_dir):
    cfg = json.loads((text_dir / "config.json").read_text())
    cfg["pad"] = "x" * limits.MAX_CONFIG_BYTES
    (text_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenseqError, match="is over 1,048,576 bytes"):
        load_model(text_dir)


# ---- checkpoints that do not match ------------------------------------------------------------


def _synth_dir(tmp_path: Path, hidden: int = 6, extra_symbol: bool = False) -> Path:
    alphabet = Alphabet.from_texts(["abc d" + ("e" if extra_symbol else "")])
    net = SynthesisNet(
        SynthesisConfig(alphabet.size, hidden_size=hidden, num_layers=1, n_mixtures=2, n_window=1)
    )
    d = tmp_path / f"s{hidden}{extra_symbol}"
    stats = NormStats((0.0, 0.0), (1.0, 1.0))
    save_model(d, net, {"norm": stats.to_json(), "alphabet": alphabet.to_json()})
    return d


def test_weights_of_another_shape_are_refused(tmp_path):
    a, b = _synth_dir(tmp_path, 6), _synth_dir(tmp_path, 8)
    (a / "model.safetensors").write_bytes((b / "model.safetensors").read_bytes())
    with pytest.raises(GenseqError, match="do not match its config"):
        load_model(a)


def test_an_alphabet_of_another_size_is_refused(tmp_path):
    a, b = _synth_dir(tmp_path), _synth_dir(tmp_path, extra_symbol=True)
    cfg = json.loads((a / "config.json").read_text())
    cfg["alphabet"] = json.loads((b / "config.json").read_text())["alphabet"]
    (a / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenseqError, match="alphabet has 7 symbols .* but the model reads 6"):
        load_model(a)


def test_a_model_of_another_kind_is_refused(tmp_path, text_dir, capsys):
    capsys.readouterr()
    assert main(["write", "abc", "--model", str(text_dir), "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "text model" in err or "needs a synthesis model" in err
    d = _synth_dir(tmp_path)
    assert main(["text", "sample", "--model", str(d), "--length", "3"]) == 2
    assert "not a text model" in capsys.readouterr().err


def test_resuming_a_checkpoint_of_another_kind_is_refused(tmp_path, capsys):
    from tests.hand.conftest import build_iam, train_tiny

    root = tmp_path / "iamondb"
    build_iam(root, packed=True)
    cache = tmp_path / "iam.npz"
    assert (
        main(
            [
                "hand",
                "prepare",
                "--iam",
                str(root),
                "--out",
                str(cache),
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert train_tiny(cache, tmp_path / "run", "predict") == 0
    data = tmp_path / "toy.txt"
    data.write_text("the cat sat. " * 50)
    capsys.readouterr()
    argv = text_train(data, tmp_path / "run", "--resume --steps 9 --no-progress")
    assert main(argv) == 2
    assert "is a checkpoint of a predict model, not of text" in capsys.readouterr().err
    # and a synthesis resume of a prediction checkpoint keeps the checkpoint's own kind
    assert train_tiny(cache, tmp_path / "run", "synth", "--resume", "--steps", "5") == 0


# ---- bounds --------------------------------------------------------------------------------


def test_generation_limits(tmp_path):
    from genseq.hand.page import write_page
    from genseq.hand.sample import HandModel, generator, synthesize_text

    d = _synth_dir(tmp_path)
    m = HandModel(
        *load_model(d)[:1],
        NormStats((0.0, 0.0), (1.0, 1.0)),
        Alphabet.from_texts(["abc d"]),
        {"kind": "synth"},
    )
    with pytest.raises(GenseqError, match="the limit is 5,000"):
        write_page(m, "abc " * 2000)
    with pytest.raises(GenseqError, match="the limit is 5,000"):
        synthesize_text(m, ["abc d" * 100] * 11)
    # per-line cap: an untrained network rarely stops by itself, and never writes past it
    syn = synthesize_text(m, ["ab", "abc dab"], rng=generator(0))
    for s, text in zip(syn.strokes, ["ab", "abc dab"], strict=True):
        assert len(s) <= limits.STEPS_PER_CHAR * len(text)


def test_sample_and_style_limits(tmp_path, monkeypatch):
    from genseq.hand import styles
    from genseq.text.sample import sample

    vocab = Vocab.build("abc", "char")
    with pytest.raises(GenseqError, match="--length must be between 0 and 10,000,000"):
        next(sample(TextModel(TextModelConfig(len(vocab), hidden_size=3)), vocab, "", 10**8))
    p = tmp_path / "big.json"
    p.write_text(json.dumps({"text": "ab", "points": [[i, i % 7, 0] for i in range(2000)]}))
    stats = NormStats((0.0, 0.0), (1.0, 1.0))
    monkeypatch.setattr(styles, "MAX_STYLE_BYTES", 1000)
    with pytest.raises(GenseqError, match="a style file is at most 1,000 bytes"):
        styles.Style.from_file(p).offsets_for(stats)
    monkeypatch.setattr(styles, "MAX_STYLE_BYTES", 10**9)
    monkeypatch.setattr(styles, "MAX_STYLE_POINTS", 500)
    with pytest.raises(GenseqError, match="the style has over 500 points"):
        styles.Style.from_file(p).offsets_for(stats)
    p.write_text(json.dumps({"text": "ab", "points": [[0, 0, 0], [10**6, 1, 0], [0, 2, 1]]}))
    with pytest.raises(GenseqError, match="over 500 points at the model's scale"):
        styles.Style.from_file(p).offsets_for(stats)


def test_hand_sample_steps_limit(tmp_path):
    from genseq.hand.model import PredictionConfig, PredictionNet
    from genseq.hand.sample import HandModel, sample_unconditional

    net = PredictionNet(PredictionConfig(hidden_size=3, num_layers=1, n_mixtures=1))
    m = HandModel(net, NormStats((0.0, 0.0), (1.0, 1.0)), None, {"kind": "predict"})
    with pytest.raises(GenseqError, match="--steps must be between 1 and 100,000"):
        sample_unconditional(m, limits.MAX_SAMPLE_STEPS + 1)


# ---- CI: missing data is a failure, not a skip --------------------------------------------------


def test_the_ci_switch_turns_the_data_skip_into_a_failure(monkeypatch):
    from tests.conftest import skip_without_data

    monkeypatch.delenv("GENSEQ_REQUIRE_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception):
        skip_without_data("no data")
    monkeypatch.setenv("GENSEQ_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="GENSEQ_REQUIRE_DATA=1"):
        skip_without_data("no data")
    ci = (PACKAGE.parent / ".ci" / "run").read_text()
    assert "GENSEQ_REQUIRE_DATA=1 make test" in ci
