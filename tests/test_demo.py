"""`make demo` writes handwriting with the shipped model, with no data set anywhere."""

from __future__ import annotations

from genseq import demo


def test_demo_writes_svg_and_png_pages_without_any_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENSEQ_DATA", str(tmp_path / "nowhere"))
    assert demo.main(["--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    pages = sorted((tmp_path / "out").iterdir())
    assert len(pages) == 2 * len(demo.STYLES) * len(demo.BIASES)
    assert all(str(p) in printed for p in pages)
    for p in pages:
        data = p.read_bytes()
        assert data[:4] == b"\x89PNG" if p.suffix == ".png" else data.count(b"<path") >= 10
