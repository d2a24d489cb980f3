"""`genseq write --style K` and `--style-from FILE` change what is written: with the same
seed, the page without a style, with a built-in style and with a user's style differ, and
each is reproduced exactly when written again."""

from __future__ import annotations

import json

from genseq.cli import main
from genseq.hand import styles
from genseq.hand.data import HandCache
from genseq.hand.sample import load_hand_model


def _write(model, out, *extra) -> bytes:
    argv = ["write", "to stop", "--model", str(model), "-o", str(out), "--seed", "4", *extra]
    assert main(argv) == 0
    return out.read_bytes()


def test_styles_change_the_page(tiny_synth, tiny_cache, tmp_path, monkeypatch):
    m = load_hand_model(tiny_synth)
    cache = HandCache.load(tiny_cache)
    i = cache.texts.index("A MOVE to stop")
    folder = tmp_path / "builtin"  # a built-in style made of a real line (normalised)
    folder.mkdir()
    style = {
        "text": cache.texts[i],
        "points": m.stats.normalise(cache.raw(i)).tolist(),
        "norm": json.loads(m.stats.to_json()),
        "source": "test",
    }
    (folder / "style-00.json").write_text(json.dumps(style))
    monkeypatch.setattr(styles, "STYLES_DIR", folder)
    raw = cache.raw(int(cache.position(cache.ids[cache.texts.index("subject")])))
    xy = raw[:, :2].cumsum(0) * [1, -1]  # absolute, y down like a screen
    mine = tmp_path / "me.json"
    mine.write_text(
        json.dumps(
            {
                "text": "subject",
                "points": [
                    [float(x), float(y), float(e)] for (x, y), e in zip(xy, raw[:, 2], strict=True)
                ],
            }
        )
    )
    pages = {
        "none": _write(tiny_synth, tmp_path / "a.svg"),
        "style": _write(tiny_synth, tmp_path / "b.svg", "--style", "0"),
        "from": _write(tiny_synth, tmp_path / "c.svg", "--style-from", str(mine)),
    }
    assert len(set(pages.values())) == 3
    assert _write(tiny_synth, tmp_path / "b2.svg", "--style", "0") == pages["style"]
    assert _write(tiny_synth, tmp_path / "c2.svg", "--style-from", str(mine)) == pages["from"]
