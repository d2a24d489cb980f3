"""Styles for primed sampling (§5.5): user JSON/SVG lines -> the network representation,
rescaling, built-ins, errors, and primed writing end to end through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genseq.cli import main
from genseq.errors import GenseqError
from genseq.hand import styles
from genseq.hand.make_styles import make_styles
from genseq.hand.strokes import NormStats, to_absolute, to_offsets
from genseq.hand.styles import (
    CORE_HEIGHT_STD,
    STEP_STD,
    Style,
    builtin_style,
    core_height,
    user_line_to_offsets,
)
from genseq.hand.svg import BEZIER_POINTS, parse_path, strokes_from_svg

# std Δy = 2: the target core height is 14 and the point spacing 1.1 board units
STATS = NormStats((0.5, -0.25), (3.0, 2.0))
H = 17.5  # a vertical stroke of length 17.5 has a 10-90% y range of 14 = CORE_HEIGHT_STD * 2


def load_style_file(path, stats: NormStats, text: str | None = None) -> tuple[np.ndarray, str]:
    """A style file read for a model with `stats`: (normalised offsets, text)."""
    st = Style.from_file(path, text)
    return st.offsets_for(stats), st.text


def _expected() -> np.ndarray:
    """Two vertical strokes (x = 0 and x = 5, y down from 0 to H) already at the model's scale,
    resampled at ceil(17.5 / 1.1) = 16 equal steps -> normalised offsets."""
    y = np.linspace(0.0, H, 17)
    xy = np.concatenate([np.stack([np.zeros(17), y], 1), np.stack([np.full(17, 5.0), y], 1)])
    eos = np.zeros(34)
    eos[[16, 33]] = 1
    return STATS.normalise(to_offsets(xy, eos))


def _user(scale: float = 10.0, dx: float = 100.0, dy: float = 50.0) -> list[np.ndarray]:
    """The same two strokes in arbitrary user units (only the end points)."""
    return [
        np.array([[0.0, 0.0], [0.0, H]]) * scale + [dx, dy],
        np.array([[5.0, 0.0], [5.0, H]]) * scale + [dx, dy],
    ]


def test_constants_describe_the_scale():
    assert core_height([np.array([[0.0, 0.0], [0.0, H]])]) == pytest.approx(14.0, rel=1e-3)
    assert CORE_HEIGHT_STD * STATS.std[1] == pytest.approx(14.0)
    assert STEP_STD * STATS.std[1] == pytest.approx(1.1)


def test_json_points_and_strokes_round_trip(tmp_path):
    want = _expected()
    a, b = _user()
    pts = [[x, y, 0] for x, y in a] + [[x, y, 0] for x, y in b]
    pts[1][2] = pts[3][2] = 1
    f1, f2 = tmp_path / "p.json", tmp_path / "s.json"
    f1.write_text(json.dumps({"text": "ab", "points": pts}))
    f2.write_text(json.dumps({"text": "ab", "strokes": [a.tolist(), b.tolist()]}))
    for f in (f1, f2):
        points, text = load_style_file(f, STATS)
        assert text == "ab"
        np.testing.assert_allclose(points, want, rtol=1e-3, atol=1e-4)  # core height: ±0.05%
    # the first offset is (0, 0) before normalisation, y is flipped to point up (§4 convention)
    raw = STATS.denormalise(points)
    assert np.allclose(raw[0, :2], 0, atol=1e-6) and raw[1, 1] < 0 and raw[16, 2] == 1


@pytest.mark.parametrize(
    "d",
    [
        "M100 50 L100 225 M150 50 L150 225",
        "m100 50 l0 175 m50 -175 l0 175",
        "M100,50V225M150,50 V 225",
        "M100 50 C100 100 100 150 100 225 M150 50 Q150 120 150 225",  # straight béziers
        "M100 50 L100 225 Z M150 50 L150 225",  # Z back to the start adds the way back
    ],
)
def test_svg_paths(tmp_path, d):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 500 500">'
        f'<title>ab</title><g transform="translate(-100 0)"><path d="{d}"/></g></svg>'
    )
    f = tmp_path / "s.svg"
    f.write_text(svg)
    points, text = load_style_file(f, STATS)
    assert text == "ab"
    if "Z" in d:  # down and back up again: twice the points in the first stroke
        assert int(points[:, 2].sum()) == 2 and len(points) > 34
    else:
        np.testing.assert_allclose(points, _expected(), rtol=1e-3, atol=1e-4)


def test_svg_polyline_transform_and_curve_sampling():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><title> my  line </title>'
        '<polyline points="0,0 0,10" transform="scale(2) translate(1, 0)"/>'
        '<line x1="0" y1="0" x2="3" y2="4"/></svg>'
    )
    strokes, title = strokes_from_svg(svg)
    assert title == "my line"
    np.testing.assert_allclose(strokes[0], [[2, 0], [2, 20]])
    np.testing.assert_allclose(strokes[1], [[0, 0], [3, 4]])
    (s,) = parse_path("M0 0 C0 1 1 1 1 0 S2 -1 2 0")  # S reflects the last control point
    assert len(s) == 1 + 2 * BEZIER_POINTS
    assert s[:, 1].max() == pytest.approx(0.75) and s[:, 1].min() == pytest.approx(-0.75)


def test_rescaling_is_scale_and_density_free():
    t = np.linspace(0.0, 6.0, 60)[:, None]
    stroke = np.concatenate([3 * t, 4 * np.sin(t)], 1)  # a smooth curve: chords ≈ arcs
    stroke2 = stroke[::-1] + [30, 5]
    base = user_line_to_offsets([stroke, stroke2], STATS)
    for k in (0.01, 37.0):
        np.testing.assert_allclose(
            user_line_to_offsets([stroke * k, stroke2 * k], STATS), base, atol=1e-4
        )
    # the same polyline with 10 extra points on every segment gives the same line
    t = np.linspace(0, 1, 11)[:-1, None]
    dense = [
        np.concatenate([s[i] + t * (s[i + 1] - s[i]) for i in range(len(s) - 1)] + [s[-1:]])
        for s in (stroke, stroke2)
    ]
    np.testing.assert_allclose(user_line_to_offsets(dense, STATS), base, atol=1e-4)
    # and the result has the model's line height and point spacing
    absolute = to_absolute(STATS.denormalise(base))
    ends = np.flatnonzero(absolute[:, 2])
    strokes = np.split(absolute[:, :2], ends[:-1] + 1)
    assert core_height(strokes) == pytest.approx(CORE_HEIGHT_STD * STATS.std[1], rel=0.02)
    steps = np.concatenate([np.hypot(*np.diff(s, axis=0).T) for s in strokes])
    assert steps.max() <= STEP_STD * STATS.std[1] + 1e-5
    assert np.median(steps) > 0.98 * STEP_STD * STATS.std[1]


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("a.json", "{not json", "neither JSON nor SVG"),
        ("a.json", "[1, 2]", "must be an object"),
        ("a.json", '{"text": "hi", "points": []}', "no points"),
        ("a.json", '{"text": "hi"}', 'needs "points"'),
        ("a.json", '{"text": "hi", "points": [[1, 2]]}', "triples"),
        ("a.json", '{"points": [[0, 0, 0], [0, 5, 1]]}', "no text"),
        ("a.json", '{"text": "hi", "points": [[0, 0, 0], [5, 0, 1]]}', "no height"),
        ("a.svg", "<svg", "not a readable SVG"),
        ("a.svg", "<html/>", "not an SVG"),
        ("a.svg", '<svg><title>x</title><path d="M0 0 A1 1 0 0 0 5 5"/></svg>', "arcs"),
        ("a.svg", '<svg><path d="M0 0 L0 5"/></svg>', "no text"),
        ("a.svg", "<svg><title>x</title></svg>", "no points"),
    ],
)
def test_style_file_errors(tmp_path, name, content, match):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(GenseqError, match=match) as e:
        load_style_file(f, STATS)
    assert "\n" not in str(e.value)


def test_missing_file_and_text_override(tmp_path):
    with pytest.raises(GenseqError, match="cannot read"):
        load_style_file(tmp_path / "none.json", STATS)
    f = tmp_path / "a.svg"
    f.write_text('<svg><path d="M0 0 L0 5 M3 0 L3 5"/></svg>')
    assert load_style_file(f, STATS, text="hi")[1] == "hi"


def test_builtin_registry(tmp_path):
    with pytest.raises(GenseqError, match="no built-in styles"):
        builtin_style(0, tmp_path)
    other = NormStats((1.0, 1.0), (2.0, 4.0))
    pts = np.array([[0, 0, 0], [1, -1, 0], [2, 0.5, 1]], np.float32)
    for k in range(2):
        d = {
            "text": f"s{k}",
            "points": pts.tolist(),
            "source": "test",
            "norm": json.loads(other.to_json()),
        }
        (tmp_path / f"style-{k:02d}.json").write_text(json.dumps(d))
    st = builtin_style(1, tmp_path)
    assert st.text == "s1"
    want = STATS.normalise(other.denormalise(pts))
    np.testing.assert_allclose(st.offsets_for(STATS), want, atol=1e-6)
    with pytest.raises(GenseqError, match="no built-in style 2: there are 2"):
        builtin_style(2, tmp_path)


# ---- end to end with a tiny synthesis model -------------------------------------------------


@pytest.fixture
def synth(tiny_synth):
    return tiny_synth


def _write(synth, out, *extra):
    return main(
        ["write", "to be made", "--model", str(synth), "-o", str(out), "--seed", "0", *extra]
    )


def _err(capsys, synth, *extra):
    """Run `genseq write` expecting a one-line user error; return it."""
    capsys.readouterr()
    assert _write(synth, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("genseq: error:")
    return err


def test_primed_writing_end_to_end(synth, tmp_path):
    a, b = _user()
    (tmp_path / "me.json").write_text(
        json.dumps({"text": "at a meeting", "strokes": [a.tolist(), b.tolist()]})
    )
    (tmp_path / "me.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 C5 5 5 10 0 20 M9 0 L9 20"/></svg>'
    )
    assert _write(synth, tmp_path / "a.svg", "--style-from", str(tmp_path / "me.json")) == 0
    assert (
        _write(
            synth,
            tmp_path / "b.png",
            "--style-from",
            str(tmp_path / "me.svg"),
            "--style-text",
            "is to be",
            "--width",
            "5",
        )
        == 0
    )
    assert (tmp_path / "a.svg").read_text().count("<path") >= 1
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_style_errors_through_the_cli(synth, tmp_path, capsys, monkeypatch):
    (tmp_path / "bad.json").write_text(json.dumps({"text": "héllo", "strokes": [[[0, 0], [0, 9]]]}))
    err = _err(capsys, synth, tmp_path / "x.svg", "--style-from", str(tmp_path / "bad.json"))
    assert "'é'" in err and "style" in err
    err = _err(capsys, synth, tmp_path / "x.svg", "--style-text", "hi")
    assert "--style-from" in err
    _err(capsys, synth, tmp_path / "x.svg", "--style-from", str(tmp_path / "no.json"))
    monkeypatch.setattr(styles, "STYLES_DIR", tmp_path / "none")
    assert "no built-in styles" in _err(capsys, synth, tmp_path / "x.svg", "--style", "0")


def test_make_styles_then_write_with_style_k(synth, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "styles"
    paths = make_styles(synth, folder, n=2, seed=0, texts=("to be",), finished_only=False)
    assert len(paths) == 2 and (folder / "candidates.png").is_file()
    d = json.loads(paths[0].read_text())
    assert {"text", "points", "source", "norm"} <= set(d) and d["text"] == "to be"
    monkeypatch.setattr(styles, "STYLES_DIR", folder)
    capsys.readouterr()
    assert main(["hand", "styles"]) == 0
    listing = capsys.readouterr().out
    assert "0: 'to be'" in listing and "1: 'to be'" in listing
    assert _write(synth, tmp_path / "k.svg", "--style", "1") == 0
    err = _err(capsys, synth, tmp_path / "k.svg", "--style", "2")
    assert "no built-in style 2: there are 2" in err
    # the same file through --style-from: read as genseq's own (normalised) format, not as
    # a user's absolute strokes, so the writing is the same as --style 1's
    assert _write(synth, tmp_path / "f.svg", "--style-from", str(paths[1])) == 0
    assert (tmp_path / "f.svg").read_text() == (tmp_path / "k.svg").read_text()
    from genseq.hand.sample import load_hand_model

    points, _ = load_style_file(paths[1], load_hand_model(synth).stats)
    np.testing.assert_allclose(
        points, np.asarray(d_pts := json.loads(paths[1].read_text())["points"]), atol=1e-6
    )
    assert len(d_pts) == len(points)


def test_make_styles_primed_with_real_lines(synth, tiny_cache, tmp_path, capsys):
    """--prime-data: each candidate is primed with a different real line (different forms);
    the file holds only the network's points (not the real line's) and names its primer."""
    from genseq.hand.data import HandDataset
    from genseq.hand.make_styles import primer_lines

    primers = primer_lines(tiny_cache, synth, 3, seed=0)
    forms = {pid.rsplit("-", 1)[0] for _, _, pid in primers}
    assert len(forms) == len(primers) >= 1
    valid = HandDataset(tiny_cache, "valid")
    for pts, text, pid in primers:
        assert text == valid[valid.index_of(pid)].text and pts.shape[1] == 3
    folder = tmp_path / "primed"
    files = make_styles(synth, folder, n=2, texts=("to be",), finished_only=False, primers=primers)
    assert len(files) == 2
    for f in files:
        d = json.loads(f.read_text())
        assert "primed with IAM-OnDB line" in d["source"] and d["text"] == "to be"
        saved = np.asarray(d["points"])
        for p, _, _ in primers:  # never a copy of the real line
            assert saved.shape != p.shape or not np.allclose(saved, p, atol=1e-3)
    capsys.readouterr()
    bad = ["hand", "styles", "--make", str(synth), "--out", str(folder), "--prime-data",
           str(tmp_path / "missing.npz")]  # fmt: skip
    assert main(bad) == 2
    assert capsys.readouterr().err.count("\n") == 1
