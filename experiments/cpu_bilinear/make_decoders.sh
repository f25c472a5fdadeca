#!/usr/bin/env bash
# The two bilinear decoders that eval_a.yaml / eval_b.yaml compare, under runs/cpu-bilinear/export/:
#   zero-shot-bilinear.safetensors: the shipped weights, unchanged, run with bilinear upsampling;
#   fine-tuned.safetensors:        the fine-tune's checkpoint (default: its latest; CHECKPOINT=…).
set -eu
cd "$(dirname "$0")/../.."
OUT=runs/cpu-bilinear/export
CHECKPOINT=${CHECKPOINT:-runs/cpu-bilinear/checkpoints/latest.pt}
mkdir -p "$OUT"
.venv/bin/python - "$OUT/zero-shot-bilinear.safetensors" <<'PY'
import json, sys
from adain.weights import load_decoder, save_decoder
decoder, metadata = load_decoder("adain/weights/decoder-vgg16-imagenet.safetensors")
decoder.upsample = "bilinear"
metadata.pop("decoder", None)
save_decoder(decoder, sys.argv[1], {**metadata, "note": "shipped weights run with bilinear upsampling, not trained so"})
PY
.venv/bin/python -m adain export "$CHECKPOINT" "$OUT/fine-tuned.safetensors" \
    --set recipe=configs/train/cpu_bilinear.yaml hardware="2-core AVX2 CPU, fp32"
