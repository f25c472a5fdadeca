#!/usr/bin/env bash
# The decoders that eval_a.yaml / eval_b.yaml compare, under runs/cpu-bilinear-colour/export/:
#   bilinear-500.safetensors: the bilinear fine-tune at step 500 (no colour term; where this run started);
#   colour.safetensors:       this run's last checkpoint averaged with the two step_*.pt kept before
#                             it (the run stopped at step 802 on its time limit: 802, 800 and 750):
#                             its validation swung ±0.07 from one 100-step check to the next, and a
#                             mean of nearby weights smooths that out without choosing among them.
set -eu
cd "$(dirname "$0")/../.."
OUT=runs/cpu-bilinear-colour/export
RUN=runs/cpu-bilinear-colour/checkpoints
mkdir -p "$OUT"
.venv/bin/python -m adain export runs/cpu-bilinear/checkpoints/step_0000500.pt "$OUT/bilinear-500.safetensors" \
    --set recipe=configs/train/cpu_bilinear.yaml hardware="2-core AVX2 CPU, fp32"
last_step=$(.venv/bin/python -c "from adain.checkpoint import load_checkpoint; print(load_checkpoint('$RUN/latest.pt')['step'])")
earlier=$(ls "$RUN"/step_*.pt | sort | while read -r f; do
    step=$((10#$(basename "$f" .pt | sed 's/step_//'))); [ "$step" -lt "$last_step" ] && echo "$f"; done | tail -2)
echo "colour.safetensors: step $last_step averaged with" $earlier
.venv/bin/python -m adain export "$RUN/latest.pt" "$OUT/colour.safetensors" --average-with $earlier \
    --set recipe=configs/train/cpu_bilinear_colour.yaml hardware="2-core AVX2 CPU, fp32"
