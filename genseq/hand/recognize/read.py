"""Reading handwriting with a trained recognizer: loaded models, lines, files.

A recognizer is found by name (`genseq/pretrained/NAME.safetensors` + `NAME.json`, the shipped
format of issue 10; "recognizer" is the shipped one) or as a run directory (model.safetensors +
config.json, what training writes).

Files (`read_file`): the formats `genseq write --style-from` reads (genseq.hand.styles): JSON
{"points": [[x, y, eos], ...]} or {"strokes": ...} (y down), genseq's own style files
(normalised offsets), and SVG (paths, polylines, ...; genseq's own outputs included). A page
of several lines is cut into lines first (`split_lines`); each line is rescaled to IAM-OnDB's
line height and point spacing (`user_line_to_offsets`) before it is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.recognize.model import Recognizer, pad_lines
from genseq.hand.sample import HandModel
from genseq.hand.strokes import NormStats
from genseq.train.checkpoint import load_model, load_tensors, model_class

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained"
NEW_LINE_JUMP = 0.25  # a stroke starting below the last one and this fraction of the page's
# width left of the current line's right end starts a new line


@dataclass
class LoadedRecognizer:
    model: Recognizer
    stats: NormStats
    alphabet: Alphabet
    config: dict

    def read(
        self, lines: list[np.ndarray], decoder: str | None = None, beam: int = 1, batch: int = 32
    ) -> list[str]:
        """Lines of normalised offsets (T, 3) in THIS model's normalisation -> texts."""
        out: list[str] = []
        for a in range(0, len(lines), batch):
            part = lines[a : a + batch]
            empty = [len(s) == 0 for s in part]
            x, n = pad_lines([s if len(s) else np.zeros((1, 3), np.float32) for s in part])
            codes = self.model.decode(x, n, decoder, beam)
            out += ["" if e else self.alphabet.decode(c) for c, e in zip(codes, empty, strict=True)]
        return out

    def read_raw(self, lines: list[np.ndarray], **kw) -> list[str]:
        """Lines of raw (de-normalised) offsets (T, 3) -> texts."""
        return self.read([self.stats.normalise(s) for s in lines], **kw)


def load_named(name: str | Path) -> tuple[torch.nn.Module, dict]:
    """(model, config) from a run directory, or from a shipped model's
    genseq/pretrained/NAME.safetensors + NAME.json (fp16 tensors loaded as fp32)."""
    path = Path(name)
    folder = Path(PRETRAINED)
    if path.is_dir():
        return load_model(path)
    files = folder / f"{name}.json", folder / f"{name}.safetensors"
    if "/" in str(name) or not all(f.is_file() for f in files):
        raise GenseqError(f"no model {name}: not a run directory nor a shipped model name")
    try:
        cfg = json.loads(files[0].read_text(encoding="utf-8"))
        model = model_class(cfg["kind"]).from_config(cfg["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise GenseqError(f"{files[0]} does not describe a genseq model ({e})") from None
    tensors, _ = load_tensors(files[1])
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval(), cfg


def load_recognizer(name: str | Path = "recognizer") -> LoadedRecognizer:
    """A run directory, or the name of a shipped model in genseq/pretrained."""
    model, cfg = load_named(name)
    if cfg.get("kind") != "recog":
        raise GenseqError(f"{name} holds a {cfg.get('kind')} model, not a recognizer")
    return LoadedRecognizer(
        model, NormStats.from_json(cfg["norm"]), Alphabet.from_json(cfg["alphabet"]), cfg
    )


def load_writer(name: str | Path = "synth") -> HandModel:
    """A synthesis model (run directory or shipped name) as genseq.hand.sample's HandModel."""
    model, cfg = load_named(name)
    if cfg.get("kind") != "synth":
        raise GenseqError(f"{name} holds a {cfg.get('kind')} model, not a synthesis model")
    stats, alphabet = NormStats.from_json(cfg["norm"]), Alphabet.from_json(cfg["alphabet"])
    return HandModel(model, stats, alphabet, cfg)


def save_pretrained(
    model_dir: str | Path, name: str, record: dict, folder: str | Path = PRETRAINED
) -> tuple[Path, Path]:
    """Ship a trained run in the issue-10 format: folder/NAME.safetensors (floating-point
    tensors stored fp16) and folder/NAME.json (the run's config.json keys + "record")."""
    from genseq.train.checkpoint import atomic_write_text, read_config, save_tensors

    cfg = read_config(Path(model_dir))
    tensors, meta = load_tensors(Path(model_dir) / "model.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    folder = Path(folder)
    out = folder / f"{name}.safetensors", folder / f"{name}.json"
    save_tensors(out[0], half, meta)
    atomic_write_text(out[1], json.dumps({**cfg, "record": record}, indent=2) + "\n")
    for f in out:
        f.chmod(0o644)  # shipped with the package: readable by all
    return out


def split_lines(strokes: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Strokes of a page (absolute, y down, in writing order) -> strokes per line: a new line
    starts where the pen jumps down and back left of the current line's right end by
    NEW_LINE_JUMP of the page's width."""
    if not strokes:
        return []
    allp = np.concatenate(strokes)
    width = float(np.ptp(allp[:, 0])) or 1.0
    lines, prev, right = [[strokes[0]]], strokes[0], float(strokes[0][:, 0].max())
    for s in strokes[1:]:
        back = right - s[0, 0] > NEW_LINE_JUMP * width  # left of the line's right end so far
        down = s[:, 1].mean() > prev[:, 1].max()
        if back and down:
            lines.append([])
            right = -np.inf
        lines[-1].append(s)
        prev, right = s, max(right, float(s[:, 0].max()))
    return lines


def file_lines(path: str | Path, stats: NormStats) -> tuple[list[np.ndarray], str]:
    """A handwriting file -> (normalised lines for a model with `stats`, the file's own text:
    the SVG <title> or JSON "text", "" if none)."""
    from genseq.hand.styles import load_style_file, read_pen_file, user_line_to_offsets

    strokes, text, own = read_pen_file(path, "pen file")
    if own is not None:  # genseq's own style file: one line of normalised offsets
        return [load_style_file(path, stats, text=text or " ").points], text
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise GenseqError(f"{path}: no pen strokes to read")
    try:
        return [user_line_to_offsets(ln, stats) for ln in split_lines(strokes)], text
    except GenseqError as e:
        raise GenseqError(f"{path}: {e}") from None


def read_file(
    path: str | Path, recognizer: LoadedRecognizer, decoder: str | None = None, beam: int = 1
) -> tuple[list[str], str]:
    """(the text of each line of a handwriting file, the file's own text or "")."""
    lines, text = file_lines(path, recognizer.stats)
    with torch.no_grad():
        return recognizer.read(lines, decoder, beam), text
