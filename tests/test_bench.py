"""`genseq bench` smoke test at tiny sizes (--tiny): every case runs and the JSON is one
object with the documented fields. Speed is not asserted."""

from __future__ import annotations

import json

from genseq.cli import main

FIELDS = {"name", "ours", "baseline", "unit", "ratio", "goal", "goal_on", "met"}


def _bench(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["bench", "--tiny", "--json", "--threads", "1", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object on stdout
    return json.loads(out)


def test_bench_tiny_json(capsys):
    res = _bench(capsys)
    assert res["threads"] == 1 and res["mode"] == "tiny"
    names = [r["name"] for r in res["results"]]
    for case in ("vs nn.LSTM", "fraction of GEMM", "LSTMCell-style", "forward_stepped",
                 "sample 1 line", "sample 2 lines", "text sample", "noise:",
                 "synth ceiling"):  # fmt: skip
        assert any(case in n for n in names), (case, names)
    for r in res["results"]:
        assert FIELDS <= r.keys(), r
        assert r["ours"] > 0 and r["ratio"] > 0
        if r["goal"] is None:  # informational rows (noise, ceiling): no verdict
            assert r["met"] is None and r["goal_on"] is None
            continue
        assert r["met"] == (r["ours"] <= r["goal"] if r["goal_on"] == "seconds"
                            else r["ratio"] >= r["goal"])  # fmt: skip
    assert any("cache" in n and "skipped" in n for n in res["notes"])


def test_bench_cache_load(capsys, tmp_path, monkeypatch):
    from tests.hand.conftest import build_iam

    build_iam(tmp_path / "iamondb", packed=True)
    monkeypatch.setenv("GENSEQ_DATA", str(tmp_path))
    res = _bench(capsys, "--only", "cache", "--build-cache")
    (r,) = res["results"]
    assert r["name"].startswith("iam cache load") and r["ours"] > 0
    assert r["goal"] == 2.0 and r["met"] == (r["ours"] <= 2.0)  # the old unit-test assert
    assert any("built" in n for n in res["notes"])


def test_bench_text_output(capsys):
    assert main(["bench", "--tiny", "--threads", "1", "--only", "text-sample"]) == 0
    out = capsys.readouterr().out
    assert "text sample" in out and "chars/s" in out


def test_bench_profile(capsys):
    res = _bench(capsys, "--only", "synth", "--profile")
    first = res["results"][0]
    assert "Self CPU" in first["profile"] and "_SynthScan" in first["profile"]


def test_bench_bf16_rows(capsys):
    res = _bench(capsys, "--only", "bf16")
    names = [r["name"] for r in res["results"]]
    for case in ("bf16 GEMM peak", "synth", "text lstm 1x8", "share of the bf16 GEMM peak",
                 "sample 1 line"):  # fmt: skip
        assert any(case in n for n in names), (case, names)
    goals = [r for r in res["results"] if r["goal"] is not None]
    assert len(goals) == 2 and all(r["goal"] == 2.0 and r["met"] is not None for r in goals)
    assert any("--precision auto =" in n and "CPU bf16 flags" in n for n in res["notes"])
