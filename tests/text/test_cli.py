"""`genseq text ...` end to end on a generated corpus, and its error paths."""

import json

import pytest

from genseq.cli import main


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("corpus") / "toy.txt"
    p.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 60, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    rc = main(
        [
            "text",
            "train",
            "--data",
            str(corpus_file),
            "--out",
            str(out),
            "--hidden",
            "16",
            "--steps",
            "6",
            "--eval-every",
            "3",
            "--batch-size",
            "4",
            "--seq-len",
            "20",
            "--no-progress",
        ]
    )
    assert rc == 0
    return out


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:"), err
    assert "Traceback" not in err
    return err


def test_eval_json_prints_one_object(trained, corpus_file, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "text",
                "eval",
                "--model",
                str(trained),
                "--data",
                str(corpus_file),
                "--split",
                "valid",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    d = json.loads(out[0])
    assert {"bpc", "error", "nats", "symbols"} <= set(d) and d["bpc"] > 0


def test_eval_dynamic_differs_from_static(trained, corpus_file, capsys):
    res = []
    for extra in ([], ["--dynamic", "--dynamic-lr", "0.5"]):
        capsys.readouterr()
        main(
            [
                "text",
                "eval",
                "--model",
                str(trained),
                "--data",
                str(corpus_file),
                "--json",
                "--batch-size",
                "1",
                "--seq-len",
                "20",
                *extra,
            ]
        )
        res.append(json.loads(capsys.readouterr().out))
    assert res[1]["dynamic"] and res[1]["nats"] != res[0]["nats"]


def test_sample_streams_prime_and_length(trained, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "text",
                "sample",
                "--model",
                str(trained),
                "--prime",
                "the ",
                "--length",
                "30",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("the ") and len(out) == len("the ") + 30 + 1
    main(
        [
            "text",
            "sample",
            "--model",
            str(trained),
            "--prime",
            "the ",
            "--length",
            "30",
            "--seed",
            "3",
        ]
    )
    assert capsys.readouterr().out == out  # --seed makes it reproducible


def test_unknown_prime_characters(trained, capsys):
    err = one_line_error(capsys, ["text", "sample", "--model", str(trained), "--prime", "ZQ§"])
    assert "Z" in err


def test_missing_data_file(tmp_path, capsys):
    one_line_error(
        capsys,
        [
            "text",
            "train",
            "--data",
            str(tmp_path / "nope.txt"),
            "--out",
            str(tmp_path / "m"),
            "--steps",
            "1",
        ],
    )


def test_empty_corpus(tmp_path, capsys):
    p = tmp_path / "empty.txt"
    p.write_text("")
    one_line_error(
        capsys, ["text", "train", "--data", str(p), "--out", str(tmp_path / "m"), "--steps", "1"]
    )


def test_bad_checkpoint(trained, tmp_path, capsys, corpus_file):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((trained / "config.json").read_text())
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    one_line_error(capsys, ["text", "sample", "--model", str(bad)])
    one_line_error(capsys, ["text", "sample", "--model", str(tmp_path / "missing")])
    (bad / "config.json").write_text("{not json")
    one_line_error(capsys, ["text", "eval", "--model", str(bad), "--data", str(corpus_file)])


def test_resume_continues(trained, corpus_file, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert (
        main(
            [
                "text",
                "train",
                "--data",
                str(corpus_file),
                "--out",
                str(run),
                "--steps",
                "9",
                "--resume",
                "--no-progress",
            ]
        )
        == 0
    )
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 9


def test_init_from_and_shipped_names(trained, corpus_file, tmp_path, capsys, monkeypatch):
    """--init-from: a new run from a model's weights and vocabulary (config must match);
    every --model takes a shipped model's name too."""
    from genseq.train import pretrained
    from genseq.train.checkpoint import load_tensors

    out = tmp_path / "again"
    argv = ["text", "train", "--data", str(corpus_file), "--out", str(out), "--hidden", "16",
            "--steps", "2", "--batch-size", "4", "--seq-len", "20", "--no-progress",
            "--init-from", str(trained)]  # fmt: skip
    assert main(argv) == 0
    cfg = json.loads((out / "config.json").read_text())
    src = json.loads((trained / "config.json").read_text())
    assert cfg["init_from"] == str(trained) and cfg["vocab"] == src["vocab"]
    assert load_tensors(out / "checkpoint.safetensors")[1]["step"] == 2
    capsys.readouterr()
    err = one_line_error(capsys, [*argv[:-3], "--hidden", "8", "--init-from", str(trained)])
    assert "hidden_size 16 there, 8 here" in err
    pretrained.export_model(trained, "toy", {"bpc": 3.0}, tmp_path / "pretrained")
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "pretrained")
    capsys.readouterr()
    assert main(["text", "sample", "--model", "toy", "--length", "20", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) > 20


def test_eval_dynamic_chooses_its_rate_on_validation_and_says_so(trained, corpus_file, capsys):
    argv = ["text", "eval", "--model", str(trained), "--data", str(corpus_file), "--seq-len",
            "20", "--dynamic", "--dynamic-rates", "0", "0.05", "--dynamic-momentum", "0.5",
            "--tune-symbols", "61"]  # fmt: skip
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    search = d["dynamic_lr_search"]
    assert set(search) == {"0", "0.05"} and d["dynamic_lr_search_symbols"] == 60
    assert d["dynamic_lr"] == min((v, float(r)) for r, v in search.items())[1]
    assert d["dynamic_momentum"] == 0.5
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"(dynamic, lr {d['dynamic_lr']:g} chosen on 60 validation symbols, momentum 0.5)" in out
    assert "dynamic lr search on validation: 0 -> " in out
    given = ["text", "eval", "--model", str(trained), "--data", str(corpus_file), "--seq-len",
             "20", "--dynamic", "--dynamic-lr", "-1"]  # fmt: skip
    assert "--dynamic-lr" in one_line_error(capsys, given)


@pytest.mark.parametrize(
    "noise",
    [["--weight-noise", "0.075", "--noise-groups", "4"], ["--adaptive-noise", "0.075"]],
)
def test_text_training_takes_per_sequence_and_adaptive_weight_noise(noise, corpus_file, tmp_path):
    from genseq.train.checkpoint import load_tensors

    out = tmp_path / "noisy"
    argv = ["text", "train", "--data", str(corpus_file), "--out", str(out), "--hidden", "8",
            "--steps", "2", "--batch-size", "4", "--seq-len", "20", "--no-progress",
            "--threads", "1", *noise]  # fmt: skip
    assert main(argv) == 0
    train = load_tensors(out / "checkpoint.safetensors")[1]["train"]
    if "--noise-groups" in noise:
        assert (train["weight_noise"], train["noise_groups"]) == (0.075, 4)
    else:
        assert train["adaptive_noise"] == 0.075
        logs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        assert any("sigma_mean" in r for r in logs)


def test_word_model_with_one_hot_input_is_the_papers_54m_weights_and_never_builds_one_hot(
    tmp_path, monkeypatch
):
    import torch

    from genseq.nn.util import count_parameters
    from genseq.text.model import TextModel, TextModelConfig

    big = TextModel(TextModelConfig(vocab_size=10_000, hidden_size=1000, embed_size=0))
    # W_x 4000 x 10,000 + W_h 4000 x 1000 + 2 biases + softmax 10,000 x 1000 + its bias
    assert count_parameters(big) == 40_000_000 + 4_000_000 + 8_000 + 10_000_000 + 10_000
    del big
    words = "a b c d e f g h i j k l m n o p q r s t u v w x y z".split()
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", 60), ("valid", 10), ("test", 10)):
        picks = torch.randint(26, (n, 12), generator=g).tolist()
        lines = [" ".join(words[i] for i in row) for row in picks]
        (tmp_path / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")

    def no_dense(*a, **k):
        raise AssertionError("a one-hot matrix was built")

    monkeypatch.setattr(torch.nn.functional, "one_hot", no_dense)
    out = tmp_path / "word"
    argv = ["text", "train", "--data", str(tmp_path), "--format", "ptb-word", "--out", str(out),
            "--embed", "0", "--hidden", "8", "--steps", "2", "--batch-size", "4", "--seq-len",
            "10", "--no-progress", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["embed_size"] == 0 and cfg["model"]["vocab_size"] == 27  # + <eos>
