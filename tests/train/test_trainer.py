import json

import pytest
import torch

from genseq.errors import GenseqError
from genseq.text.corpus import Corpus, Vocab
from genseq.text.evaluate import evaluate
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.task import TextTask
from genseq.train.checkpoint import load_model, load_tensors
from genseq.train.trainer import TrainConfig, Trainer


def make_corpus(n: int = 6000, seed: int = 0) -> Corpus:
    """A generated corpus with learnable structure: words from a tiny grammar."""
    g = torch.Generator().manual_seed(seed)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "dog ", "ran "]
    text = "".join(words[int(i)] for i in torch.randint(0, len(words), (n // 4,), generator=g))
    vocab = Vocab.build(text, "char")
    ids = torch.tensor(vocab.encode(text))
    a, b = int(len(ids) * 0.8), int(len(ids) * 0.9)
    return Corpus(vocab=vocab, train=ids[:a], valid=ids[a:b], test=ids[b:], name="toy")


def make_model(vocab_size: int, **kw) -> TextModel:
    torch.manual_seed(0)
    return TextModel(TextModelConfig(vocab_size=vocab_size, hidden_size=24, num_layers=2, **kw))


def run(tmp, steps, corpus, resume=False, hook=None, new_lr=None, **cfg_kw):
    model = make_model(len(corpus.vocab), dropout=0.1)
    cfg = TrainConfig(
        steps=steps,
        eval_every=7,
        log_every=2,
        checkpoint_every=1e9,
        lr=3e-3,
        weight_noise=0.01,
        **cfg_kw,
    )
    tr = Trainer(
        model,
        TextTask(corpus, batch_size=4, seq_len=16),
        cfg,
        tmp,
        {"vocab": corpus.vocab.to_json()},
        progress=False,
    )
    tr.on_step = hook
    res = tr.fit(resume=resume, lr=new_lr)
    return tr, res


def _records(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def _same_records(full, cut) -> None:
    """An interrupted and resumed run logged the uninterrupted one's lines and figures."""
    a, b = _records(full), _records(cut)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        for k in ra:
            if k.startswith(("train_", "valid_", "grad_norm", "clipped")):
                assert ra[k] == pytest.approx(rb[k], rel=1e-6, abs=1e-7), (ra["step"], k)


def test_loss_falls_and_files_written(tmp_path):
    corpus = make_corpus()
    model = make_model(len(corpus.vocab))
    before = evaluate(model, corpus.valid, "char", 4, 16).nats
    cfg = TrainConfig(steps=120, eval_every=60, log_every=10, lr=1e-2)
    Trainer(
        model,
        TextTask(corpus, 4, 16),
        cfg,
        tmp_path,
        {"vocab": corpus.vocab.to_json()},
        progress=False,
    ).fit()
    after = evaluate(model, corpus.valid, "char", 4, 16).nats
    assert after < 0.6 * before
    for f in (
        "model.safetensors",
        "config.json",
        "metrics.jsonl",
        "loss.png",
        "checkpoint.safetensors",
    ):
        assert (tmp_path / f).is_file(), f
    loaded, cfg = load_model(tmp_path)
    assert cfg["kind"] == "text" and "valid" in cfg
    recs = _records(tmp_path)
    assert any("valid_bpc" in r for r in recs) and any("train_bpc" in r for r in recs)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop-graves", "sgd"])
def test_resume_reproduces_uninterrupted_run(tmp_path, optimizer):
    corpus = make_corpus()
    kw = {"optimizer": optimizer}
    _, full = run(tmp_path / "full", 30, corpus, **kw)

    def interrupt(step):
        if step == 13:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", 30, corpus, hook=interrupt, **kw)
    _, meta = load_tensors(tmp_path / "cut" / "checkpoint.safetensors")
    assert meta["step"] == 13
    _, res = run(tmp_path / "cut", 30, corpus, resume=True, **kw)
    assert res["step"] == 30
    _same_records(tmp_path / "full", tmp_path / "cut")
    wa = load_model(tmp_path / "full", "model.safetensors")[0].state_dict()
    wb = load_model(tmp_path / "cut", "model.safetensors")[0].state_dict()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("where", ["backward", "evaluate"])
def test_interrupt_inside_a_step_or_an_evaluation_resumes_exactly(tmp_path, where):
    """Ctrl-C in the middle of an update (after the task's forward, during backward) or of a
    validation: the checkpoint written then must still continue like the uninterrupted run."""
    corpus = make_corpus()
    run(tmp_path / "full", 30, corpus)
    calls = {"n": 0}

    class Interrupting(TextTask):
        def loss(self, model, epoch, i, carry):
            out = super().loss(model, epoch, i, carry)
            calls["n"] += 1
            if where == "backward" and calls["n"] == 12:
                out[0].register_hook(lambda g: (_ for _ in ()).throw(KeyboardInterrupt))
            return out

        def evaluate(self, model):
            if where == "evaluate" and calls["n"] == 14:
                raise KeyboardInterrupt
            return super().evaluate(model)

    model = make_model(len(corpus.vocab), dropout=0.1)
    cfg = TrainConfig(
        steps=30, eval_every=7, log_every=2, checkpoint_every=1e9, lr=3e-3, weight_noise=0.01
    )
    tr = Trainer(
        model,
        Interrupting(corpus, batch_size=4, seq_len=16),
        cfg,
        tmp_path / "cut",
        {"vocab": corpus.vocab.to_json()},
        progress=False,
    )
    with pytest.raises(KeyboardInterrupt):
        tr.fit()
    run(tmp_path / "cut", 30, corpus, resume=True)
    _same_records(tmp_path / "full", tmp_path / "cut")


def test_log_lines_give_the_gradient_norm_before_clipping(tmp_path):
    """Without a clip, each line's grad_norm is the 2-norm of the gradients the update used
    (left in .grad after the step), and there is no "clipped" share."""
    corpus = make_corpus()
    model = make_model(len(corpus.vocab))
    norms = []

    def hook(step):
        grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack(grads))))

    cfg = TrainConfig(steps=4, eval_every=100, log_every=1, checkpoint_every=1e9, lr=3e-3, clip=0)
    tr = Trainer(model, TextTask(corpus, batch_size=4, seq_len=16), cfg, tmp_path, {},
                 progress=False)  # fmt: skip
    tr.on_step = hook
    tr.fit()
    lines = [r for r in _records(tmp_path) if "train_loss" in r]
    assert [r["grad_norm"] for r in lines] == pytest.approx(norms, rel=1e-5)
    assert all("clipped" not in r for r in lines)


@pytest.mark.parametrize("clip, share", [(1e-6, 1.0), (1e6, 0.0)])
def test_log_lines_give_the_share_of_clipped_updates(tmp_path, clip, share):
    _, res = run(tmp_path, 6, make_corpus(), clip=clip)
    lines = [r for r in _records(tmp_path) if "train_loss" in r]
    assert lines and all(r["clipped"] == share and r["grad_norm"] > 0 for r in lines)


def test_resume_with_an_explicit_lr_continues_at_that_rate(tmp_path):
    corpus = make_corpus()
    run(tmp_path, 10, corpus)
    tr, _ = run(tmp_path, 12, corpus, resume=True, new_lr=5e-4)
    assert tr.cfg.lr == 5e-4 and all(g["lr"] == 5e-4 for g in tr.opt.param_groups)
    logged = [r["lr"] for r in _records(tmp_path) if r["step"] > 10 and "lr" in r]
    assert logged and set(logged) == {5e-4}
    with pytest.raises(GenseqError, match="--lr must be > 0"):
        run(tmp_path, 14, corpus, resume=True, new_lr=0.0)


def test_resume_without_checkpoint_is_a_user_error(tmp_path):
    corpus = make_corpus()
    with pytest.raises(GenseqError, match="nothing to resume"):
        run(tmp_path, 5, corpus, resume=True)


def test_needs_a_limit(tmp_path):
    corpus = make_corpus()
    with pytest.raises(GenseqError, match="limit"):
        Trainer(make_model(5), TextTask(corpus, 4, 16), TrainConfig(), tmp_path)


def test_graves_rmsprop_matches_equations():
    from genseq.train.optim import GravesRMSProp

    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = GravesRMSProp([w], lr=1e-4, momentum=0.9)
    n = g = d = torch.zeros(2)
    ref = w.detach().clone()
    for e in ([0.5, -1.0], [0.1, 2.0], [-0.3, 0.0]):
        e = torch.tensor(e)
        w.grad = e.clone()
        opt.step()
        n = 0.95 * n + 0.05 * e**2  # eq. 39
        g = 0.95 * g + 0.05 * e  # eq. 40
        d = 0.9 * d - 1e-4 * e / torch.sqrt(n - g**2 + 1e-4)  # eq. 41
        ref = ref + d  # eq. 42
        torch.testing.assert_close(w.detach(), ref)


def test_weight_noise_restores_weights_exactly():
    from genseq.nn.noise import weight_noise

    model = make_model(5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with weight_noise(model, 0.5):
        changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed
    for k, v in model.state_dict().items():
        assert torch.equal(before[k], v)


def test_sigterm_checkpoints_and_exits_like_ctrl_c(tmp_path):
    """`kill PID` (SIGTERM) on a `genseq text train` run: the run writes its checkpoint, says
    it was interrupted, exits 130, and --resume continues from the step it reached. Started
    with SIGINT ignored, as `nohup cmd &` does, so only SIGTERM can stop it cleanly."""
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "toy.txt"
    corpus.write_text("the cat sat on a mat. " * 400)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "genseq", "text", "train", "--data", str(corpus), "--out",
           str(out), "--layers", "1", "--hidden", "16", "--batch-size", "4", "--seq-len", "20",
           "--steps", "1000000", "--eval-every", "1000000", "--checkpoint-every", "1e9",
           "--threads", "1", "--no-progress"]  # fmt: skip
    p = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.is_file() and metrics.read_text().count("\n") >= 2):
        assert p.poll() is None and time.time() < deadline, p.stderr.read()
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)  # ignored, as under nohup
    time.sleep(0.5)
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 130 and "interrupted" in err, err
    _, meta = load_tensors(out / "checkpoint.safetensors")
    reached = meta["step"]
    assert reached >= 40  # at least the two logged windows of 20 updates
    r = subprocess.run(
        [*cmd[:cmd.index("--steps") + 1], str(reached + 3), *cmd[cmd.index("--steps") + 2:],
         "--resume"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert load_tensors(out / "checkpoint.safetensors")[1]["step"] == reached + 3
