"""`make demo`: the shipped handwriting model at work, offline, in well under a minute.

Writes a short paragraph with the shipped `synth` model in two built-in styles at two biases,
each saved as SVG and PNG (paths printed), then, when the char model `shakespeare` is shipped,
a short sample of its pastiche (§3). Needs no data set and no network. Training a small text
model from scratch is `make demo-train` (`python -m genseq.demo_train`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from genseq.errors import GenseqError
from genseq.hand.page import write_page
from genseq.hand.render import save_strokes
from genseq.hand.sample import load_hand_model
from genseq.hand.styles import builtin_style
from genseq.text.model import load_text_model
from genseq.text.sample import sample
from genseq.train.pretrained import shipped_names

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = (
    "Generating sequences with recurrent neural networks: these lines were written by a "
    "network that learned handwriting from thousands of examples."
)
STYLES = (0, 3)  # built-in styles (genseq hand styles lists them)
BIASES = (0.5, 1.5)  # eqs 61-62: higher is neater
TEXT_MODEL, PRIME, TEXT_LENGTH, TEMPERATURE = "shakespeare", "ROMEO:\n", 300, 0.8


def write_samples(out: Path, model: str = "synth") -> list[Path]:
    """The paragraph in each of STYLES at each of BIASES, as SVG and PNG -> the paths."""
    m = load_hand_model(model)
    paths = []
    for k in STYLES:
        st = builtin_style(k)
        for b in BIASES:
            page = write_page(m, PARAGRAPH, 45, b, st, seed=k)
            for suffix in (".svg", ".png"):
                path = out / f"demo-style{k}-bias{b:g}{suffix}"
                save_strokes(path, page.points, absolute=True)
                paths.append(path)
    return paths


def text_sample(model: str = TEXT_MODEL) -> str | None:
    """PRIME and TEXT_LENGTH sampled characters of the shipped text model, or None when it is
    not shipped in this install."""
    if model not in shipped_names():
        return None
    m = load_text_model(model)
    prime = PRIME if all(ch in m.vocab for ch in PRIME) else ""
    return prime + "".join(sample(m.net, m.vocab, prime, TEXT_LENGTH, TEMPERATURE, seed=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "out" / "demo"), help="folder for the pages")
    ap.add_argument("--model", default="synth", help="a shipped model name or a run directory")
    a = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = Path(a.out)
    t0 = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
        for p in write_samples(out, a.model):
            print(f"demo: wrote {p}")
        text = text_sample()
        if text is not None:
            print(f"demo: the shipped {TEXT_MODEL!r} text model writes (temperature "
                  f"{TEMPERATURE}):\n{text}")  # fmt: skip
    except (GenseqError, OSError) as e:
        print(f"demo: error: {e}", file=sys.stderr)
        return 2
    print(f"demo: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
