"""A small synthetic IAM-OnDB in the official layout (packed and unpacked), and the real one."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# form -> (split list or None, CSR lines, number of XML lines)
FORMS = {
    "a01-000u": ("trainset", ["A MOVE to stop", "Mr. Gaitskell from", "nominating any"], 3),
    "a01-001": ("testset_t", ["is to be made", "at a meeting"], 2),  # -02 is malformed
    "b02-010x": ("testset_f", ["Labour life Peers"], 2),  # -02 has no CSR line
    "c03-005": ("testset_v", ["resolution on the", "subject"], 2),
    "z00-001": (None, ["in no split"], 1),
}
MALFORMED_ID = "a01-001-02"
NO_TEXT_ID = "b02-010x-02"


@dataclass
class Expected:
    xy: np.ndarray  # (N, 2) board units, y down
    eos: np.ndarray  # (N,) uint8
    time: np.ndarray
    text: str | None
    split: str | None


def _line(rng: np.random.Generator, n_strokes: int, valid: bool) -> tuple:
    """Random-walk strokes; validation lines get 5x larger steps (for the normalisation test)."""
    scale = 5 if valid else 1
    pts, eos = [], []
    x, y = 1000, 1000
    for _ in range(n_strokes):
        n = int(rng.integers(20, 35))  # >= 3 points per character: default cleaning keeps it
        for k in range(n):
            x += int(rng.integers(-5, 25)) * scale
            y += int(rng.integers(-20, 21)) * scale
            pts.append((x, y))
            eos.append(int(k == n - 1))
        x += int(rng.integers(20, 80))  # pen-up move
    xy = np.array(pts, np.float32)
    t = 100.0 + 0.01 * np.arange(len(pts))
    return xy, np.array(eos, np.uint8), t


def _xml(xy: np.ndarray, eos: np.ndarray, t: np.ndarray) -> str:
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<WhiteboardCaptureSession>",
        '  <WhiteboardDescription><SensorLocation corner="top_left"/></WhiteboardDescription>',
        "  <StrokeSet>",
    ]
    start = 0
    for end in np.flatnonzero(eos) + 1:
        out.append(
            f'    <Stroke colour="black" start_time="{t[start]:.2f}" end_time="{t[end - 1]:.2f}">'
        )
        for (x, y), tt in zip(xy[start:end], t[start:end], strict=True):
            out.append(f'      <Point x="{int(x)}" y="{int(y)}" time="{tt:.2f}"/>')
        out.append("    </Stroke>")
        start = end
    out += ["  </StrokeSet>", "</WhiteboardCaptureSession>"]
    return "\n".join(out) + "\n"


def build_iam(root: Path, packed: bool, seed: int = 0) -> dict[str, Expected]:
    """Write the official layout under root; return what the reader must find (id -> line)."""
    rng = np.random.default_rng(seed)
    files: dict[str, bytes] = {}
    expected: dict[str, Expected] = {}
    for form, (split, csr, n_xml) in FORMS.items():
        d1 = form[:3]
        d2 = form[:7]
        ascii_txt = "OCR:\n\nsome OCR text\n\nCSR:\n\n" + "\n".join(csr) + "\n\n"
        files[f"ascii/{d1}/{d2}/{form}.txt"] = ascii_txt.encode()
        for k in range(1, n_xml + 1):
            lid = f"{form}-{k:02d}"
            xy, eos, t = _line(rng, 3, valid=split == "testset_v")
            text = csr[k - 1] if k <= len(csr) else None
            if lid == MALFORMED_ID:
                data = _xml(xy, eos, t)[:-60].encode()  # cut mid-element
            else:
                data = _xml(xy, eos, t).encode()
                expected[lid] = Expected(xy, eos, t, text, split)
            files[f"lineStrokes/{d1}/{d2}/{lid}.xml"] = data
    root.mkdir(parents=True, exist_ok=True)
    if packed:
        for archive, top in (
            ("lineStrokes-all.tar.gz", "lineStrokes/"),
            ("ascii-all.tar.gz", "ascii/"),
        ):
            with tarfile.open(root / archive, "w:gz") as tar:
                for name, data in files.items():
                    if name.startswith(top):
                        info = tarfile.TarInfo(name)
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
    else:
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    (root / "splits").mkdir()
    for s in ("trainset", "testset_v", "testset_t", "testset_f"):
        forms = [f for f, v in FORMS.items() if v[0] == s]
        (root / "splits" / f"{s}.txt").write_text("".join(f" {f}\n" for f in forms))
    return expected


@pytest.fixture(params=["packed", "unpacked"])
def iam(request, tmp_path) -> tuple[Path, dict[str, Expected]]:
    root = tmp_path / request.param / "iamondb"
    return root, build_iam(root, packed=request.param == "packed")


@pytest.fixture
def iam_packed(tmp_path) -> tuple[Path, dict[str, Expected]]:
    root = tmp_path / "iamondb"  # $GENSEQ_DATA/iamondb with GENSEQ_DATA = tmp_path
    return root, build_iam(root, packed=True)


def same_cache(a, b) -> None:
    """Two HandCaches hold exactly the same data."""
    assert a.ids == b.ids and a.texts == b.texts and a.splits == b.splits
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.index, b.index)
    assert a.points.dtype == b.points.dtype == np.float32
    assert a.stats == b.stats and a.alphabet == b.alphabet
    assert a.meta == b.meta


# ---- a tiny prepared cache and tiny trained networks, shared by the CLI tests ----------------
def train_tiny(cache: Path, out: Path, task: str, *extra: str) -> int:
    """`genseq hand train` a tiny network in a few seconds (plumbing, not quality)."""
    from genseq.cli import main

    return main(
        [
            "hand",
            "train",
            "--task",
            task,
            "--data",
            str(cache),
            "--out",
            str(out),
            "--hidden",
            "16",
            "--layers",
            "2",
            "--mixtures",
            "3",
            "--window",
            "2",
            "--batch-size",
            "2",
            "--steps",
            "4",
            "--eval-every",
            "2",
            "--no-progress",
            *extra,
        ]
    )


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    from genseq.cli import main

    root = tmp_path_factory.mktemp("iam") / "iamondb"
    build_iam(root, packed=True)
    out = root.parent / "iam.npz"
    assert (
        main(
            ["hand", "prepare", "--iam", str(root), "--out", str(out), "--quiet", "--workers", "1"]
        )
        == 0
    )
    return out


@pytest.fixture(scope="session")
def tiny_synth(tiny_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert train_tiny(tiny_cache, out, "synth") == 0
    return out


@pytest.fixture(scope="session")
def tiny_predict(tiny_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("predict")
    assert train_tiny(tiny_cache, out, "predict") == 0
    return out
