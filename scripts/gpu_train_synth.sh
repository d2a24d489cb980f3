#!/usr/bin/env bash
# Train synth on a CUDA GPU with bf16 autocast for N minutes and print points/s (issue 12).
# usage: scripts/gpu_train_synth.sh MINUTES DATA [INIT_RUN_DIR] [extra gpu_train_synth.py flags]
#   DATA: an IAM-OnDB cache (.npz), or a folder with the official IAM-OnDB files (as
#         ../shared/data/iamondb), which `genseq hand prepare` turns into $OUT/iam.npz first.
#   INIT_RUN_DIR: a run directory to start from (model.safetensors + config.json), or "-".
# Writes the run directory to $OUT/synth-gpu (OUT defaults to ./gpu-out). Needs a CUDA torch.
set -euo pipefail
MINUTES=${1:?minutes}; DATA=${2:?cache.npz or IAM-OnDB folder}; INIT=${3:--}
shift $(( $# < 3 ? $# : 3 ))
OUT=${OUT:-./gpu-out}; PY=${PYTHON:-python}
export PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
if [ -d "$DATA" ]; then
  "$PY" -m genseq hand prepare --iam "$DATA" --out "$OUT/iam.npz" --workers "$(nproc)" --quiet
  DATA="$OUT/iam.npz"
fi
INIT_ARGS=(); [ "$INIT" != "-" ] && INIT_ARGS=(--init "$INIT")
exec "$PY" "$(dirname "$0")/gpu_train_synth.py" --data "$DATA" --out "$OUT/synth-gpu" \
  --minutes "$MINUTES" "${INIT_ARGS[@]}" "$@"
