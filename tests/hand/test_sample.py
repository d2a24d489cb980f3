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
