#!/usr/bin/env bash
# The mean of the sixth stage (the default before it) and the content-weight-1.5 / colour-weight-100 chunk
# (README, "Seventh stage"): six checkpoints averaged with equal weights — runs/cpu-sw steps
# 1300/1350/1363 (sw6.safetensors) and runs/cpu-sw-cw15-col steps 1800/1850/1868 (cw15col.safetensors) —
# so that it is the mean of those two exports; a half-and-half mix, chosen before its figures were
# seen. Pairings A and B beside the two it averages and Magenta, design.md's protocol, the EfficientNet
# content distance taken apart, pairing C, the wave style's per-tap gap, the frame's sources and
# decode(encode(x)) of the 40 content/val photos at 512 px.  Logs under runs/cpu-sw-mix/.
# Needs both runs' checkpoints (the resume commands of experiments/skips/README.md).
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw-mix
SW=runs/cpu-sw/checkpoints COL=runs/cpu-sw-cw15-col/checkpoints
mkdir -p $LOGS/export
.venv/bin/python -m adain export $COL/latest.pt $LOGS/export/mix.safetensors \
    --average-with $COL/step_0001800.pt $COL/step_0001850.pt $SW/latest.pt $SW/step_0001300.pt $SW/step_0001350.pt \
    --set recipe="the palette decoder (experiments/palette), then configs/train/cpu_skips.yaml to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw) to step 1,363; this decoder is the mean of that run's steps 1300/1350/1363 (the sixth stage) and of steps 1800/1850/1868 of its continuation with optim.content_weight=1.5 (runs/cpu-sw-cw15, to step 1,680) and then also optim.colour_weight=100 (runs/cpu-sw-cw15-col)" \
    hardware="2-core AVX2 CPU, fp32"
bash $HERE/evaluate_stage.sh mix $LOGS $LOGS/export/mix.safetensors
bash $HERE/evaluate_outside.sh mix $LOGS
.venv/bin/python experiments/cpu_imagenet/reconstruct.py adain/weights/decoder-vgg16-hed.safetensors \
    runs/cpu-sw/export/sw6.safetensors $LOGS/export/mix.safetensors \
    --json $HERE/reconstruction_512_mix.json --figure $HERE/reconstruction_512_mix.jpg | tee $LOGS/reconstruct.log
