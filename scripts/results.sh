#!/usr/bin/env bash
# `make results`: the pictures of RESULTS.md, drawn from the shipped weights (no data needed).
# usage: scripts/results.sh [OUT_DIR]   (default docs/); GENSEQ=path/to/genseq overrides the CLI
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs}
G=${GENSEQ:-.venv/bin/genseq}
mkdir -p "$OUT"
TEXT="The quick brown fox jumps over the lazy dog"
for b in 0 0.5 1 2; do   # §5.4: unbiased and biased samples, one seed
  "$G" write "$TEXT" --model synth --bias "$b" --seed 3 --width 60 -o "$OUT/bias-$b.png"
done
for k in 0 1 2 3 4; do   # §5.5: the five built-in styles (primed sampling) at bias 1
  "$G" write "genseq writes in style $k" --model synth --style "$k" --bias 1 --seed 1 \
    -o "$OUT/style-$k.png"
done
# Fig 13: the window weights φ(t, u) of one written line; Fig 14: its predicted densities
"$G" write "hello world" --model synth --bias 1 --seed 2 -o "$OUT/hello.png" \
  --figure phi --figure-out "$OUT/fig13-phi.png"
"$G" write "hello world" --model synth --bias 1 --seed 2 -o "$OUT/hello.svg" \
  --figure density --figure-out "$OUT/fig14-density.png"
if "$G" models 2>/dev/null | grep -q '^predict'; then   # Fig 10: the prediction network
  "$G" hand sample --model predict --steps 700 --seed 1 -o "$OUT/fig10-density.png" \
    --figure density
fi
ls -l "$OUT"
