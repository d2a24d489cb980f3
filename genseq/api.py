"""The one-call Python API (re-exported by `genseq`): load a model by name or directory,
write text as handwriting, list the built-in styles.

    import genseq
    page = genseq.write("hello world", style=genseq.styles()[0], bias=1.0, seed=1)
    page.save("hello.svg")

Loaded models are cached (keyed by their files and modification times), so repeated calls,
e.g. one per web request, load each model once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from genseq.errors import GenseqError
from genseq.hand.page import DEFAULT_WIDTH, Page, write_page
from genseq.hand.sample import HandModel, load_hand_model
from genseq.hand.styles import Style, builtin_styles
from genseq.text.model import LanguageModel, TextModel, load_text_model
from genseq.train.checkpoint import read_config
from genseq.train.pretrained import locate

Model = HandModel | LanguageModel
CACHE_SIZE = 4  # models kept loaded
_cache: OrderedDict[tuple, Model] = OrderedDict()
_lock = threading.Lock()


def load(name_or_dir: str | Path) -> Model:
    """A trained model: a shipped model's name (e.g. "synth") or a run directory. Handwriting
    models come as a `HandModel` (net, normalisation, alphabet), text models as a
    `LanguageModel` (net, vocabulary). Cached: loading the same files again is free."""
    files = locate(name_or_dir)
    if not (files.config.is_file() and files.weights.is_file()):
        read_config(files)  # one clear error for a directory that is not a model's
        raise GenseqError(f"no weights for {name_or_dir}: {files.weights} is missing")
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns) for p in (files.config, files.weights))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        kind = read_config(files)["kind"]
        loader = load_text_model if kind == TextModel.kind else load_hand_model
        model = loader(name_or_dir)
        _cache[key] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return model


def write(
    text: str,
    *,
    model: str | Path | HandModel = "synth",
    style: Style | None = None,
    bias: float = 0.0,
    width: int | None = None,
    seed: int | None = None,
    strict: bool = False,
    precision: str = "fp32",
) -> Page:
    """Write `text` in handwriting with a synthesis network (§5) -> a `Page`.

    model: a shipped name, a run directory or a loaded `HandModel`; style: a `Style` to write
    like (§5.5: `styles()`, `Style.from_file`, `Style.from_strokes`); bias: eqs 61-62, 0 is
    the network's own variety, higher is neater (the CLI's default is 0.5); width: characters
    per line, word-wrapped (None: 40); seed: for the same page again; strict: refuse
    characters the model lacks instead of folding them to ones it has (é → e); precision:
    the sampler's GEMMs, "fp32" or "bf16" / "auto" (bf16 where the CPU has it: faster, other
    strokes for a seed)."""
    m = model if isinstance(model, HandModel) else load(model)
    if not isinstance(m, HandModel) or m.alphabet is None:
        raise GenseqError(f"{model} is not a synthesis model: it cannot write text")
    width = DEFAULT_WIDTH if width is None else width
    return write_page(m, text, width, bias, style, seed, strict, precision=precision)


def styles() -> list[Style]:
    """The built-in styles, in the order `genseq write --style K` counts them."""
    return builtin_styles()
