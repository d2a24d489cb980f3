"""Build the shipped recognizer's character language model, tune the CTC beam search on the
first testset_v lines, and measure CER / WER on all of testset_v (genseq issue 13).

    python scripts/build_charlm.py --cache .cache/iam.npz [--order 6] [--beam 16] [--tune 300]
        [--recognizer recognizer] [--out genseq/pretrained/recognizer-lm]

1. The model (genseq.hand.recognize.charlm) is counted from the TRAINING transcriptions only
   (the paper's training set trainset + testset_t + testset_f), in the recognizer's alphabet;
   its bits per symbol on testset_v's transcriptions are recorded.
2. The recognizer's CTC log-probabilities of every testset_v line are computed once (1 torch
   thread, batches of 32 lines of similar length, as `LoadedRecognizer.read` does).
3. The LM weight α and the bonus β per character are chosen on the FIRST --tune testset_v
   lines (dataset order): the grid's lowest CER (then WER).
4. At the tuned α, β, other beam widths on the same lines (CER, decoder time). On all
   testset_v lines: best path, prefix beam search without LM, and with the LM at the
   tuned α, β: CER, WER, and the lines after the first --tune (not seen by the tuning); the
   reading time per line (encoder + decoder, 1 thread).
5. STEM.safetensors + STEM.json are written with the tuned settings ("decoding") and all of
   the above ("record"); then `legibility.floor` (the public reading path) re-reads the first
   --tune lines with the saved model and must give the tuned CER.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from genseq.hand.data import HandCache, HandDataset
from genseq.hand.recognize.charlm import CharLM
from genseq.hand.recognize.legibility import floor
from genseq.hand.recognize.metrics import error_counts, rates
from genseq.hand.recognize.model import pad_lines
from genseq.hand.recognize.read import LoadedRecognizer, load_recognizer
from genseq.nn.ctc_beam import CTCBeam, ctc_prefix_beam_search
from genseq.nn.seq2seq import ctc_greedy

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (0.5, 0.7, 0.9, 1.1)  # α grid
BONUSES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)  # β grid (nats per character)
BEAMS = (4, 8, 16, 32, 64)  # widths tried at the tuned α, β (decoder time only)


def clock() -> np.ndarray:
    """(wall, CPU) seconds: the CPU time is this process's (1 thread), the wall time counts
    the waits of a shared machine too."""
    return np.array([time.perf_counter(), time.process_time()])


def ctc_log_probs(
    rec: LoadedRecognizer, lines: list[np.ndarray]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each line's CTC log-probabilities (T_i, A + 1), and the encoder's (wall, CPU) seconds."""
    order = np.argsort([len(s) for s in lines])
    out: list[np.ndarray] = [np.zeros(0)] * len(lines)
    t0 = clock()
    with torch.no_grad():
        for a in range(0, len(lines), 32):
            idx = order[a : a + 32].tolist()
            x, n = rec.model.frames(*pad_lines([lines[i] for i in idx]))
            lp = rec.model.net.ctc_log_probs(rec.model.net.encode(x, n)).double().numpy()
            for j, i in enumerate(idx):
                out[i] = lp[j, : int(n[j])]
    return out, clock() - t0


def read_all(
    lps: list[np.ndarray], rec: LoadedRecognizer, cfg: CTCBeam | None, lm: CharLM | None
) -> tuple[list[str], np.ndarray]:
    """Texts (best path if cfg is None, else prefix beam search), the decoder's (wall, CPU)
    seconds."""
    t0 = clock()
    if cfg is None:
        codes = [ctc_greedy(torch.from_numpy(lp)[None], torch.tensor([len(lp)]))[0] for lp in lps]
    else:
        codes = [list(ctc_prefix_beam_search(lp, cfg, lm)[0][0]) for lp in lps]
    return [rec.alphabet.decode(c) for c in codes], clock() - t0


def scores(refs: list[str], hyps: list[str]) -> dict:
    c = error_counts(refs, hyps)
    return {**{k: round(v, 5) for k, v in rates(c).items()}, "lines": c["lines"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", required=True, help="IAM-OnDB cache (genseq hand prepare)")
    p.add_argument("--recognizer", default="recognizer")
    p.add_argument("--order", type=int, default=6)
    p.add_argument("--beam", type=int, default=16)
    p.add_argument("--prune", type=float, default=CTCBeam.prune)
    p.add_argument("--tune", type=int, default=300, help="tune on the first N testset_v lines")
    p.add_argument("--out", default=str(ROOT / "genseq/pretrained/recognizer-lm"))
    a = p.parse_args()
    torch.set_num_threads(1)

    cache = HandCache.load(a.cache)
    rec = load_recognizer(a.recognizer, lm=None)
    if cache.alphabet.symbols != rec.alphabet.symbols:
        raise SystemExit(f"{a.cache}'s alphabet is not the recognizer's")
    train = [cache.texts[i] for i in cache.select("train") if cache.texts[i]]
    t0 = time.perf_counter()
    lm = CharLM.build(train, rec.alphabet, a.order)
    built = time.perf_counter() - t0
    ds = HandDataset(cache, "valid", alphabet=rec.alphabet)
    ds.stats = rec.stats
    refs = [ds[i].text for i in range(len(ds))]
    bps = lm.bits_per_symbol(refs)
    print(
        f"LM order {a.order}: n-grams per order {[len(c) for c in lm.raw]}, built in {built:.1f} s"
    )
    print(f"  training text: {len(train):,} lines, {sum(map(len, train)):,} characters")
    print(f"  testset_v transcriptions: {bps:.4f} bits per symbol (characters and line ends)")

    lps, enc = ctc_log_probs(rec, [ds.strokes(i) for i in range(len(ds))])
    frames = sum(len(lp) for lp in lps)
    ms = 1e3 * enc / len(lps)
    print(f"encoder: {len(lps)} lines, {frames:,} frames, {ms[0]:.1f} ms/line ({ms[1]:.1f} CPU)")

    k = a.tune
    grid = []
    for w in WEIGHTS:
        for b in BONUSES:
            cfg = CTCBeam(a.beam, w, b, a.prune)
            hyps, sec = read_all(lps[:k], rec, cfg, lm)
            r = {"lm_weight": w, "bonus": b, **scores(refs[:k], hyps)}
            grid.append(r)
            cer, wer = r["cer"], r["wer"]
            print(f"  tune α {w:.1f} β {b:.1f}: CER {cer:.2%} WER {wer:.2%} ({sec[0]:.0f} s)")
    best = min(grid, key=lambda r: (r["cer"], r["wer"]))
    w, b = best["lm_weight"], best["bonus"]
    print(f"tuned on the first {k} lines: α {w}, β {b}: CER {best['cer']:.2%}")

    widths = {}
    for width in BEAMS:
        hyps, sec = read_all(lps[:k], rec, CTCBeam(width, w, b, a.prune), lm)
        ms = [round(v, 1) for v in 1e3 * sec / k]
        widths[width] = {**scores(refs[:k], hyps), "decoder_ms_per_line": ms}
        print(f"  beam {width}: CER {widths[width]['cer']:.2%} (decoder {ms[0]} ms, {ms[1]} CPU)")

    figures, timing = {}, {}
    setups = {
        "best_path": None,
        "beam": CTCBeam(a.beam, 0.0, 0.0, a.prune),
        "beam_lm": CTCBeam(a.beam, w, b, a.prune),
    }
    for name, cfg in setups.items():
        lm.clear_cache()  # timed from a cold LM cache, as a fresh `genseq hand read`
        hyps, sec = read_all(lps, rec, cfg, lm)
        figures[name] = {"all": scores(refs, hyps), f"after_first_{k}": scores(refs[k:], hyps[k:])}
        figures[name][f"first_{k}"] = scores(refs[:k], hyps[:k])
        timing[name] = [round(v, 1) for v in 1e3 * (enc + sec) / len(lps)]
        f = figures[name]["all"]
        print(
            f"{name}: CER {f['cer']:.2%} WER {f['wer']:.2%} on {f['lines']} lines "
            f"(after the first {k}: CER {figures[name][f'after_first_{k}']['cer']:.2%}); "
            f"{timing[name][0]} ms/line ({timing[name][1]} CPU)"
        )

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lm.meta = {
        "decoding": {"beam": a.beam, "lm_weight": w, "bonus": b, "prune": a.prune},
        "record": {
            "task": "character LM for the recognizer's CTC prefix beam search (issue 13)",
            "recognizer": a.recognizer,
            "train": {
                "data": f"{Path(a.cache).name}: trainset + testset_t + testset_f transcriptions",
                "lines": len(train),
                "characters": sum(map(len, train)),
            },
            "bits_per_symbol_testset_v": round(bps, 4),
            "tuned_on": f"the first {k} testset_v lines (dataset order), beam {a.beam}",
            "tuning": grid,
            "beam_widths": {f"beam_{n}": v for n, v in widths.items()},
            "testset_v": figures,
            "ms_per_line": timing,
            "timing": "[wall, CPU] ms per line: encoder (batches of 32) + decoder, 1 torch "
            "thread, on 2 cores shared with two training runs (wall > CPU: waits)",
            "command": f"python scripts/build_charlm.py --cache {a.cache} --order {a.order} "
            f"--beam {a.beam} --tune {k}",
            "commit": commit,
        },
    }
    st, js = lm.save(a.out)
    print(f"wrote {st} ({st.stat().st_size / 2**20:.2f} MiB) and {js}")

    rec.lm = a.out
    check = floor(rec, a.cache, "ctc", a.beam, first=k)
    print(f"floor(..., beam {a.beam}, first={k}) with the saved LM: CER {check['cer']:.2%}")
    assert abs(check["cer"] - best["cer"]) < 2e-3, (check, best)  # batches differ: fp noise


if __name__ == "__main__":
    main()
