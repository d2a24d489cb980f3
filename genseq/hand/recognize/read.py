"""Reading handwriting with a trained recognizer: loaded models, lines, files.

A recognizer is found by name (`genseq/pretrained/NAME.safetensors` + `NAME.json`, the shipped
format of issue 10; "recognizer" is the shipped one) or as a run directory (model.safetensors +
config.json, what training writes). A shipped recognizer NAME reads with the character language
model `NAME-lm` when it is shipped too (genseq.hand.recognize.charlm; loaded at the first read
that uses it: a CTC beam search, beam > 1), with the weight and bonus tuned for it.

Files (`read_file`): the formats `genseq write --style-from` reads (genseq.hand.styles): JSON
{"points": [[x, y, eos], ...]} or {"strokes": ...} (y down), genseq's own style files
(normalised offsets), and SVG (paths, polylines, ...; genseq's own outputs included). A page
of several lines is cut into lines first (`split_lines`); each line is rescaled to IAM-OnDB's
line height and point spacing (`user_line_to_offsets`) before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from genseq.errors import GenseqError
from genseq.hand.alphabet import Alphabet
from genseq.hand.model import SynthesisNet
from genseq.hand.recognize.charlm import CharLM, load_charlm
from genseq.hand.recognize.model import Recognizer, pad_lines
from genseq.hand.sample import HandModel, load_hand_model
from genseq.hand.strokes import NormStats
from genseq.train.checkpoint import load_model, read_config

NEW_LINE_JUMP = 0.25  # a stroke starting below the last one and this fraction of the page's
# width left of the current line's right end starts a new line


@dataclass
class LoadedRecognizer:
    model: Recognizer
    stats: NormStats
    alphabet: Alphabet
    config: dict
    lm: CharLM | str | Path | None = None  # a character LM, or where to load it at first use

    def language_model(self) -> CharLM | None:
        """The character LM of the CTC beam search (loaded here the first time)."""
        if isinstance(self.lm, str | Path):
            lm = load_charlm(self.lm)
            if lm.alphabet.symbols != self.alphabet.symbols:
                raise GenseqError(
                    f"the language model {self.lm} has another alphabet than the recognizer"
                )
            self.lm = lm
        return self.lm

    def lm_settings(
        self, lm_weight: float | None = None, bonus: float | None = None
    ) -> tuple[CharLM | None, float, float]:
        """(the LM, its weight, the bonus per character) of a CTC beam search; None: the
        settings tuned for the LM (weight 0: no LM, bonus 0 unless given)."""
        lm = self.language_model() if lm_weight != 0 else None
        if lm is None:
            if lm_weight:
                raise GenseqError("a language model weight needs a language model (--lm)")
            return None, 0.0, bonus or 0.0
        tuned = lm.decoding
        weight = tuned.get("lm_weight", 1.0) if lm_weight is None else lm_weight
        return lm, weight, tuned.get("bonus", 0.0) if bonus is None else bonus

    def read(
        self,
        lines: list[np.ndarray],
        decoder: str | None = None,
        beam: int = 1,
        batch: int = 32,
        lm_weight: float | None = None,
        bonus: float | None = None,
    ) -> list[str]:
        """Lines of normalised offsets (T, 3) in THIS model's normalisation -> texts.
        CTC with beam > 1: prefix beam search with the language model (`lm_settings`)."""
        ctc_beam = beam > 1 and (decoder or self.model.cfg.decoder) == "ctc"
        lm, weight, bonus = self.lm_settings(lm_weight, bonus) if ctc_beam else (None, 0.0, 0.0)
        out: list[str] = []
        for a in range(0, len(lines), batch):
            part = lines[a : a + batch]
            empty = [len(s) == 0 for s in part]
            x, n = pad_lines([s if len(s) else np.zeros((1, 3), np.float32) for s in part])
            codes = self.model.decode(x, n, decoder, beam, lm, weight, bonus)
            out += ["" if e else self.alphabet.decode(c) for c, e in zip(codes, empty, strict=True)]
        return out

    def read_raw(self, lines: list[np.ndarray], **kw) -> list[str]:
        """Lines of raw (de-normalised) offsets (T, 3) -> texts."""
        return self.read([self.stats.normalise(s) for s in lines], **kw)


def load_recognizer(
    name: str | Path = "recognizer", lm: str | Path | Literal["auto"] | None = "auto"
) -> LoadedRecognizer:
    """A run directory, or the name of a shipped model in genseq/pretrained. lm: a character
    LM (shipped name or path) for CTC beam search; "auto": NAME-lm if NAME and it are shipped;
    None: none."""
    from genseq.train import pretrained

    model, cfg = load_model(name)
    if not isinstance(model, Recognizer):
        raise GenseqError(f"{name} holds a {cfg.get('kind')} model, not a recognizer")
    if lm == "auto":  # a shipped recognizer's own LM, shipped beside it
        own = f"{name}-lm"
        lm = own if pretrained.locate(name).shipped and own in pretrained.shipped_names() else None
    return LoadedRecognizer(
        model, NormStats.from_json(cfg["norm"]), Alphabet.from_json(cfg["alphabet"]), cfg, lm
    )


def load_writer(name: str | Path = "synth") -> HandModel:
    """A synthesis model (run directory or shipped name) as genseq.hand.sample's HandModel."""
    kind = read_config(name)["kind"]
    if kind != SynthesisNet.kind:
        raise GenseqError(f"{name} holds a {kind} model, not a synthesis model")
    return load_hand_model(name)


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
    from genseq.hand.styles import Style, read_pen_file, user_line_to_offsets

    strokes, text, own = read_pen_file(path, "pen file")
    if own is not None:  # genseq's own style file: one line of normalised offsets
        return [Style.from_file(path, text=text or " ").offsets_for(stats)], text
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise GenseqError(f"{path}: no pen strokes to read")
    lines = []
    for i, ln in enumerate(split_lines(strokes), 1):
        try:
            lines.append(user_line_to_offsets(ln, stats))
        except GenseqError as e:  # which line of the page the style code refuses
            raise GenseqError(f"{path}: handwriting line {i}: {e}") from None
    return lines, text


def read_file(
    path: str | Path,
    recognizer: LoadedRecognizer,
    decoder: str | None = None,
    beam: int = 1,
    lm_weight: float | None = None,
    bonus: float | None = None,
) -> tuple[list[str], str]:
    """(the text of each line of a handwriting file, the file's own text or "")."""
    lines, text = file_lines(path, recognizer.stats)
    with torch.no_grad():
        return recognizer.read(lines, decoder, beam, lm_weight=lm_weight, bonus=bonus), text
