"""bpc, perplexity and error % (§3) against a hand computation: each stream stepped one
symbol at a time (`TextModel.step`, not the segmented forward), softmax and log in float64
Python arithmetic, then the means — for the library and for `genseq text eval --json`."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genseq.cli import main
from genseq.text.corpus import Vocab, load_corpus
from genseq.text.evaluate import evaluate
from genseq.text.model import TextModel, TextModelConfig
from genseq.train.checkpoint import load_model
from tests.conftest import text_train


def by_hand(model: TextModel, ids: torch.Tensor, streams: int) -> tuple[float, float, int]:
    """(mean nats, error %, predictions) over `streams` contiguous streams of ids."""
    L = len(ids) // streams
    nats, wrong, n = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for b in range(streams):
            s, state = ids[b * L : (b + 1) * L].tolist(), None
            for t in range(L - 1):
                logits, state = model.step(torch.tensor([s[t]]), state)
                z = [float(v) for v in logits[0]]
                top = max(z)
                log_sum = top + math.log(sum(math.exp(v - top) for v in z))
                nats += log_sum - z[s[t + 1]]  # -log softmax(target), eq 6
                wrong += int(max(range(len(z)), key=z.__getitem__) != s[t + 1])
                n += 1
    return nats / n, 100.0 * wrong / n, n


@pytest.mark.parametrize("level", ["char", "word"])
def test_metrics_match_a_hand_computation(level):
    torch.manual_seed(1)
    vocab = Vocab.build("abcde fg", "char")
    ids = torch.randint(0, len(vocab), (43,))
    model = TextModel(TextModelConfig(len(vocab), hidden_size=7, num_layers=2))
    nats, err, n = by_hand(model, ids, streams=2)
    m = evaluate(model, ids, level, batch_size=2, seq_len=6).as_dict()
    assert m["symbols"] == n == 2 * (21 - 1)
    assert m["nats"] == pytest.approx(nats, rel=1e-5)
    assert m["error"] == pytest.approx(err, abs=1e-9)
    if level == "word":
        assert m["ppl"] == pytest.approx(math.exp(nats), rel=1e-5)
    else:
        assert m["bpc"] == pytest.approx(nats / math.log(2), rel=1e-5)


def test_text_eval_cli_matches_a_hand_computation(tmp_path, capsys):
    data = tmp_path / "toy.txt"
    data.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 40, encoding="utf-8")
    out = tmp_path / "m"
    argv = text_train(data, out, "--hidden 8 --steps 5 --batch-size 4 --seq-len 10 --no-progress")
    assert main(argv) == 0
    capsys.readouterr()
    argv = [
        "text",
        "eval",
        "--model",
        str(out),
        "--data",
        str(data),
        *"--split valid --batch-size 3 --seq-len 7 --json".split(),
    ]
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    model, cfg = load_model(out)
    valid = load_corpus(data, "plain", vocab=Vocab.from_json(cfg["vocab"])).valid
    nats, err, n = by_hand(model, valid, streams=3)
    assert got["symbols"] == n
    assert got["bpc"] == pytest.approx(nats / math.log(2), rel=1e-5)
    assert got["error"] == pytest.approx(err, abs=1e-9)
