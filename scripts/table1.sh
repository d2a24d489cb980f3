#!/usr/bin/env bash
# Table 1 of Graves (2013), Penn Treebank test set: every row with its exact commands.
#
# usage: scripts/table1.sh ROW [ROW ...]    ROW: char char-wn char-awn word word-wn word-embed
#                                                 (or "all": every row, one after the other)
# Each ROW trains runs/table1/ROW (resumable: run it again to continue, the run's own settings
# kept), then evaluates its best-on-validation model on the test split, static and dynamic
# (the dynamic step's rate chosen on validation, stated), into runs/table1/ROW-{static,dynamic}.json.
#
# Settings (environment): GENSEQ_DATA (the data root, holding text/ptb and text/ptb_char),
# GENSEQ (the CLI, default .venv/bin/genseq), THREADS (default 2), MINUTES (training wall-clock
# per row, default 600), EPOCHS (default: the paper's epochs of the row), DYN_MOMENTUM (momentum
# of dynamic evaluation, default 0; §3 trains with 0.99), LSTM_CLIP (Graves' LSTM derivative
# clip, default 1 as §3; 0 keeps the fused kernel, faster on CPU), SMOKE=1 (a 2-update 16-unit
# run of each row on the real data, to check the commands end to end in a few minutes).
#
# The model is the paper's: 1 x 1000 LSTM, one-hot input (char: 50 symbols, 4.3M weights; word:
# 10,000 words, 54M weights), 100-step truncated BPTT with the state carried. The optimiser is
# not the paper's (SGD 1e-4, momentum 0.99 on summed per-sequence gradients): Adam 1e-3 on the
# per-symbol mean, halved on validation plateaus. word-embed is not in the paper: a 400-wide
# learned embedding with dropout 0.5 beside the one-hot row.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GENSEQ:-.venv/bin/genseq}
D=${GENSEQ_DATA:?set GENSEQ_DATA to the data root (it holds text/ptb and text/ptb_char)}
THREADS=${THREADS:-2}
MINUTES=${MINUTES:-600}
DYN_MOMENTUM=${DYN_MOMENTUM:-0}
LSTM_CLIP=${LSTM_CLIP:-1}
OUT=${OUT:-runs/table1}
mkdir -p "$OUT"

row() {  # ROW -> "format data-dir paper-epochs extra-flags..."
  case "$1" in
    char)       echo "ptb-char $D/text/ptb_char 9 --embed 0" ;;
    char-wn)    echo "ptb-char $D/text/ptb_char 25 --embed 0 --weight-noise 0.075 --noise-groups 32" ;;
    char-awn)   echo "ptb-char $D/text/ptb_char 26 --embed 0 --adaptive-noise 0.075" ;;
    word)       echo "ptb-word $D/text/ptb 11 --embed 0" ;;
    word-wn)    echo "ptb-word $D/text/ptb 14 --embed 0 --weight-noise 0.075 --noise-groups 32" ;;
    word-embed) echo "ptb-word $D/text/ptb 14 --embed 400 --dropout 0.5" ;;
    *) echo "unknown row $1 (char char-wn char-awn word word-wn word-embed all)" >&2; exit 2 ;;
  esac
}

run_row() {
  local name=$1 fmt data epochs flags size limits run=$OUT/$1 resume=()
  read -r fmt data epochs flags <<<"$(row "$name")"
  size=(--layers 1 --hidden 1000)
  limits=(--epochs "${EPOCHS:-$epochs}" --minutes "$MINUTES" --eval-every 1000)
  local tune=50000
  if [ "${SMOKE:-0}" = 1 ]; then
    size=(--layers 1 --hidden 16); limits=(--steps 2 --eval-every 2 --eval-symbols 2000)
    tune=2000
  fi
  [ -f "$run/checkpoint.safetensors" ] && resume=(--resume)
  # shellcheck disable=SC2086  # $flags: the row's flags, word-split on purpose
  "$G" text train --data "$data" --format "$fmt" --out "$run" "${size[@]}" $flags \
    --seq-len 100 --batch-size 32 --lr 1e-3 --clip 1 --lstm-clip "$LSTM_CLIP" \
    --checkpoint-every 300 --threads "$THREADS" --no-progress "${limits[@]}" "${resume[@]}"
  "$G" text eval --model "$run" --data "$data" --format "$fmt" --split test --json \
    > "$OUT/$name-static.json"
  "$G" text eval --model "$run" --data "$data" --format "$fmt" --split test --json \
    --dynamic --dynamic-momentum "$DYN_MOMENTUM" --tune-symbols "$tune" \
    > "$OUT/$name-dynamic.json"
  echo "== $name"; cat "$OUT/$name-static.json" "$OUT/$name-dynamic.json"
}

[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
rows=("$@")
[ "$1" = all ] && rows=(char char-wn char-awn word word-wn word-embed)
for r in "${rows[@]}"; do row "$r" >/dev/null; done   # every name checked before any run
for r in "${rows[@]}"; do run_row "$r"; done
