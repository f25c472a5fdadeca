#!/usr/bin/env bash
# The decoders that eval_a.yaml / eval_b.yaml compare, under runs/cpu-bilinear-colour/export/:
#   bilinear-500.safetensors: the bilinear fine-tune at step 500 (no colour term; where this run started);
#   colour.safetensors:       this run's checkpoint (default: its latest; CHECKPOINT=…).
set -eu
cd "$(dirname "$0")/../.."
OUT=runs/cpu-bilinear-colour/export
CHECKPOINT=${CHECKPOINT:-runs/cpu-bilinear-colour/checkpoints/latest.pt}
mkdir -p "$OUT"
.venv/bin/python -m adain export runs/cpu-bilinear/checkpoints/step_0000500.pt "$OUT/bilinear-500.safetensors" \
    --set recipe=configs/train/cpu_bilinear.yaml hardware="2-core AVX2 CPU, fp32"
.venv/bin/python -m adain export "$CHECKPOINT" "$OUT/colour.safetensors" \
    --set recipe=configs/train/cpu_bilinear_colour.yaml hardware="2-core AVX2 CPU, fp32"
