"""The loss-curve PNG: written, and drawn without touching pyplot (a notebook that trains keeps
its own matplotlib backend and figures)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt

from genseq.train.plot import plot_curves


def test_writes_a_png_and_leaves_pyplot_alone(tmp_path):
    history = [{"step": 10, "train_bpc": 3.0}, {"step": 20, "train_bpc": 2.5, "valid_bpc": 2.7}]
    before = matplotlib.get_backend()
    plt.switch_backend("svg")  # not Agg: a plot that switched to Agg would show
    mine = plt.figure()
    try:
        plot_curves(history, tmp_path / "loss.png", "bpc")
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == [mine.number]  # no figure opened, none closed
    finally:
        plt.close(mine)
        plt.switch_backend(before)
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
