"""`genseq bench` cases of the domains (see `genseq.bench`): SynthesisNet training and
sampling, text sampling, the IAM-OnDB cache load."""

from __future__ import annotations

import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genseq.bench.timing import Sizes, compare, result_row, time_calls, train_step
from genseq.hand.data import HandCache, HandDataset, build_cache
from genseq.hand.iamondb import default_iam_dir, read_iamondb
from genseq.hand.model import SynthesisConfig, SynthesisNet, inputs_targets
from genseq.hand.sampler_loop import python_steps
from genseq.nn.mdn import mdn_draw, mdn_nll, split_params
from genseq.nn.window import u_grid
from genseq.text.corpus import Vocab
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.sample import sample


def synth_net(s: Sizes):

    torch.manual_seed(0)
    return SynthesisNet(SynthesisConfig(alphabet_size=s.alphabet, hidden_size=s.synth_hidden))


def random_strokes(B: int, T: int) -> Tensor:
    x = torch.randn(B, T, 3)
    x[..., 2] = (torch.rand(B, T) < 0.04).float()
    return x


def bench_synth(s: Sizes) -> list[dict]:

    B, T = s.batch, s.synth_seq
    U = max(T // s.points_per_char, 1)
    fast = synth_net(s)
    ref = copy.deepcopy(fast)
    x, y = inputs_targets(random_strokes(B, T))
    mask = torch.ones(B, T, dtype=torch.bool)
    text = torch.randint(1, s.alphabet, (B, U))

    def loss(f) -> Tensor:
        return mdn_nll(split_params(f(x, text)[0], fast.n_mixtures), y, mask).sum() / B

    t_fast, t_ref = compare(
        train_step(fast, lambda: loss(fast)),
        train_step(ref, lambda: loss(ref.forward_stepped)),
        s.repeats,
    )
    name = f"synth {fast.cfg.num_layers}x{s.synth_hidden} B={B} T={T} train vs forward_stepped"
    out = [
        result_row(name, B * T / t_fast, B * T / t_ref, "points/s", t_ref / t_fast, 3.0, "ratio")
    ]
    if fast.upper is None:
        return out
    # the part no stepping choice can speed up: layers 2..N (fused kernel) and the head, fed
    # random layer-1 outputs; t_ref / t_upper bounds the ratio even if layer 1 and the window
    # cost nothing
    H, A = s.synth_hidden, s.alphabet
    xw, h1 = torch.randn(T, B, 3 + A), torch.randn(T, B, H, requires_grad=True)

    yt = y.transpose(0, 1)

    def upper() -> Tensor:
        o, _ = fast.upper(xw, None, below=h1, batch_first=False)
        y_hat = fast.head(torch.cat([h1, o], -1))
        return mdn_nll(split_params(y_hat, fast.n_mixtures), yt).sum() / B

    t_up = statistics.median(time_calls(train_step(fast, upper), s.repeats))
    name = "synth ceiling: forward_stepped vs layers 2..N + head alone"
    n = B * T
    out.append(result_row(name, n / t_up, n / t_ref, "points/s", t_ref / t_up, None, None))
    return out


def _reference_sampler(net, text: Tensor, steps: int) -> Callable[[], None]:
    """Baseline: `step` and a draw per point, nothing else (no stop rule bookkeeping)."""

    chars = net.encode_text(text)
    u = u_grid(chars.shape[1])

    @torch.no_grad()
    def run() -> None:
        st = net.initial_state(text.shape[0])
        x = torch.zeros(text.shape[0], 3)
        for _ in range(steps):
            y, st, _ = net.step(x, st, chars, u)
            x = mdn_draw(y, net.cfg.n_mixtures, 0.0, None)

    return run


def bench_sampling(s: Sizes) -> list[dict]:
    net = synth_net(s).eval()
    K = net.cfg.n_window
    with torch.no_grad():  # the window crawls: no early stop, every run makes `steps` points
        net.window.proj.bias[2 * K :].fill_(-12.0)
    steps = s.sample_chars * s.points_per_char
    out = []
    for lines, goal in ((1, 0.25), (s.sample_lines, 0.6)):  # issue 12's goals
        text = torch.randint(1, s.alphabet, (lines, s.sample_chars))
        gen = torch.Generator().manual_seed(0)

        def ours(text=text, gen=gen) -> None:
            net.synthesize(text, max_steps=steps, generator=gen)

        def python(text=text, gen=gen) -> None:
            with python_steps():
                ours(text, gen)

        t_ours, t_base = compare(ours, _reference_sampler(net, text, steps), s.repeats)
        name = (
            f"sample {lines} line{'s' if lines > 1 else ''} x {s.sample_chars} chars "
            f"({steps} points, 3x{s.synth_hidden}) seconds"
        )
        out.append(result_row(name, t_ours, t_base, "s", t_base / t_ours, goal, "seconds"))
        t_ours, t_py = compare(ours, python, s.repeats)
        name = f"sample {lines} line{'s' if lines > 1 else ''}: TorchScript loop vs Python steps"
        out.append(result_row(name, t_ours, t_py, "s", t_py / t_ours, None, None))
    return out


def bench_text_sampling(s: Sizes) -> list[dict]:

    torch.manual_seed(0)
    V, H, n = s.input, s.text_hidden, s.text_len
    vocab = Vocab([chr(65 + i) for i in range(V)], "char")
    ours = TextModel(TextModelConfig(vocab_size=V, hidden_size=H, num_layers=1)).eval()
    lstm, head = nn.LSTM(V, H, 1), nn.Linear(H, V)
    gen = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def base() -> None:  # nn.LSTM once a step: one-hot in, softmax, draw
        x, state = torch.zeros(1, 1, V), None
        for _ in range(n):
            h, state = lstm(x, state)
            nxt = int(torch.multinomial(torch.softmax(head(h[0, 0]), -1), 1, generator=gen))
            x = F.one_hot(torch.tensor([[nxt]]), V).float()

    t_ours, t_base = compare(lambda: list(sample(ours, vocab, "", n, 1.0, 0)), base, s.repeats)
    name = f"text sample 1x{H} ({n} chars) vs nn.LSTM per step"
    return [result_row(name, n / t_ours, n / t_base, "chars/s", t_base / t_ours, 1.0, "ratio")]


def bench_cache(cache: str | None, build: bool, s: Sizes) -> tuple[list[dict], list[str]]:

    notes = []
    tmp = None
    if cache is None and build:
        iam = default_iam_dir()
        if iam is None or not iam.is_dir():
            return [], ["iam cache load: skipped, --build-cache needs $GENSEQ_DATA/iamondb"]
        tmp = tempfile.TemporaryDirectory()
        cache = str(Path(tmp.name) / "iam.npz")
        t = time.perf_counter()
        build_cache(read_iamondb(iam, workers=s.workers, progress=False)).save(cache)
        notes.append(f"iam cache built from {iam} in {time.perf_counter() - t:.1f} s")
    if cache is None:
        return [], ["iam cache load: skipped (give --cache PATH, or --build-cache)"]

    def load() -> None:
        c = HandCache.load(cache)
        HandDataset(c, "train")
        HandDataset(c, "valid", alphabet=c.alphabet)

    try:
        t = statistics.median(time_calls(load, max(s.repeats // 2, 1)))
    finally:
        if tmp is not None:
            tmp.cleanup()
    mib = os.path.getsize(cache) / 2**20 if os.path.exists(cache) else None
    return [result_row("iam cache load + train/valid sets", t, None, "s", None, 2.0, "seconds",
                       cache_mib=mib)], notes  # fmt: skip
