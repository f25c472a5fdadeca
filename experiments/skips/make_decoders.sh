#!/usr/bin/env bash
# The decoder eval_a.yaml / eval_b.yaml add: runs/cpu-skips/export/skips.safetensors, the skip
# run's last checkpoint averaged with the two step_*.pt kept before it (chosen by nothing, as the
# palette export was).  The palette decoder it started from is made by
# experiments/palette/make_decoders.sh when missing.
set -eu
cd "$(dirname "$0")/../.."
[ -f runs/cpu-palette/export/palette.safetensors ] || bash experiments/palette/make_decoders.sh
OUT=runs/cpu-skips/export
RUN=runs/cpu-skips/checkpoints
mkdir -p "$OUT"
last_step=$(.venv/bin/python -c "from adain.checkpoint import load_checkpoint; print(load_checkpoint('$RUN/latest.pt')['step'])")
earlier=$(ls "$RUN"/step_*.pt | sort | while read -r f; do
    step=$((10#$(basename "$f" .pt | sed 's/step_//'))); [ "$step" -lt "$last_step" ] && echo "$f"; done | tail -2)
echo "skips.safetensors: step $last_step averaged with" $earlier
.venv/bin/python -m adain export "$RUN/latest.pt" "$OUT/skips.safetensors" --average-with $earlier \
    --set recipe="the palette decoder (experiments/palette), then configs/train/cpu_skips.yaml" hardware="2-core AVX2 CPU, fp32"
