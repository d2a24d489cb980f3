"""genseq.hand.sample: writing lines on a tiny trained network."""

from __future__ import annotations

import numpy as np
import torch

from genseq.hand.sample import generator, load_hand_model, synthesize_text, trim_prime_tail
from genseq.hand.sampling import Synthesis
from genseq.hand.styles import Style


def test_trim_prime_tail_on_a_hand_made_window():
    """Points are dropped up to the first step whose φ peaks on the new text."""
    n_prime = 3  # columns 0..2: the prime's text; 3..4: the new text; 5: one past the end
    phi = torch.zeros(6, 6)
    for t, u in enumerate([1, 2, 2, 3, 4, 5]):  # the window's peak at each step
        phi[t, u] = 1.0
    pts = torch.arange(18, dtype=torch.float32).reshape(6, 3)
    syn = Synthesis([pts, pts[:2]], [phi, phi[:2]], [True, False], [torch.ones(5)] * 2)
    out = trim_prime_tail(syn, n_prime)
    assert torch.equal(out.strokes[0], pts[3:]) and torch.equal(out.phi[0], phi[3:])
    assert torch.equal(out.strokes[1], pts[:2])  # never reaches the new text: kept whole
    assert out.stopped == [True, False]


def test_primed_lines_start_on_the_new_text(tiny_synth):
    m = load_hand_model(tiny_synth)
    g = np.random.default_rng(0)
    points = np.c_[g.normal(size=(40, 2)), (np.arange(40) % 10 == 9)].astype(np.float32)
    syn = synthesize_text(m, ["be to"], 0.5, Style("to", offsets=points), generator(3))
    n_prime = len("to ")
    (ph,) = syn.phi
    assert len(ph) and int(ph[0].argmax()) >= n_prime


# ---- every error message, word for word ------------------------------------------------------


def test_text_over_the_length_limit(tiny_synth, tmp_path, capsys):
    import pytest

    from genseq import write
    from genseq.cli import main
    from genseq.errors import GenseqError
    from genseq.limits import MAX_WRITE_CHARS

    m = load_hand_model(tiny_synth)
    n = MAX_WRITE_CHARS + 1
    want = f"the text has {n:,} characters; the limit is {MAX_WRITE_CHARS:,}"
    with pytest.raises(GenseqError, match=f"^{want}$"):
        synthesize_text(m, ["ab" * (n // 2), "a" * (n % 2)])
    with pytest.raises(GenseqError, match=f"^{want}$"):
        write("a" * n, model=m)
    capsys.readouterr()
    assert main(["write", "a" * n, "--model", str(tiny_synth), "-o", str(tmp_path / "o.svg")]) == 2
    assert capsys.readouterr().err == f"genseq: error: {want}\n"
    assert "characters; the limit is" in want


def test_a_style_text_the_model_cannot_read(tiny_synth, tmp_path, capsys):
    import json
    import re

    import pytest

    from genseq.cli import main
    from genseq.errors import GenseqError

    m = load_hand_model(tiny_synth)
    g = np.random.default_rng(0)
    points = np.c_[g.normal(size=(20, 2)), (np.arange(20) % 10 == 9)].astype(np.float32)
    with pytest.raises(GenseqError) as e:
        synthesize_text(m, ["to"], style=Style("to ~ ^", offsets=points))
    assert str(e.value) == "the text of the style has characters the model cannot read: '~', '^'"
    f = tmp_path / "me.json"
    f.write_text(json.dumps({"text": "tö", "strokes": [[[0, 0], [0, 9], [4, 9]]]}))
    capsys.readouterr()
    assert main(["write", "to", "--model", str(tiny_synth), "-o", str(tmp_path / "o.svg"),
                 "--style-from", str(f)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert re.fullmatch(
        f"genseq: error: the text of the style \\({re.escape(str(f))}\\) has characters the "
        "model cannot read: 'ö'\n",
        err,
    ), err
