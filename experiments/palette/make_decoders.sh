#!/usr/bin/env bash
# The decoders eval_a.yaml / eval_b.yaml compare:
#   runs/cpu-bilinear-colour/export/colour.safetensors: where the palette run started
#     (experiments/cpu_bilinear_colour/make_decoders.sh makes it when it is missing);
#   runs/cpu-palette/export/palette.safetensors: the fast-head continuation's last checkpoint averaged with the
#     two step_*.pt kept before it — chosen by nothing, as the colour run's export was.
set -eu
cd "$(dirname "$0")/../.."
[ -f runs/cpu-bilinear-colour/export/colour.safetensors ] || bash experiments/cpu_bilinear_colour/make_decoders.sh
OUT=runs/cpu-palette/export
RUN=runs/cpu-palette-fast-head/checkpoints
mkdir -p "$OUT"
last_step=$(.venv/bin/python -c "from adain.checkpoint import load_checkpoint; print(load_checkpoint('$RUN/latest.pt')['step'])")
earlier=$(ls "$RUN"/step_*.pt | sort | while read -r f; do
    step=$((10#$(basename "$f" .pt | sed 's/step_//'))); [ "$step" -lt "$last_step" ] && echo "$f"; done | tail -2)
echo "palette.safetensors: step $last_step averaged with" $earlier
.venv/bin/python -m adain export "$RUN/latest.pt" "$OUT/palette.safetensors" --average-with $earlier \
    --set recipe="configs/train/cpu_palette.yaml (200 steps), then configs/train/cpu_palette_fast_head.yaml" hardware="2-core AVX2 CPU, fp32"
