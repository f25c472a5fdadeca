#!/usr/bin/env bash
# The seventh stage's second chunk (README, "Seventh stage"): the content-weight-1.5 run (runs/cpu-sw-cw15,
# step 1680) trained on with optim.colour_weight=100 too in runs/cpu-sw-cw15-col, exported as
# cw15col.safetensors (its last checkpoint averaged with the two kept before it, chosen by nothing);
# pairings A and B beside the content-weight-1.5 export, the default and Magenta, design.md's protocol
# and the EfficientNet content distance taken apart; with --outside also pairing C, the wave style's
# per-tap gap, the frame's sources and decode(encode(x)) of the 40 content/val photos at 512 px.
# Logs under runs/cpu-sw-cw15-col/.  evaluate_cw15.sh and evaluate_sw6.sh make the other exports.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw-cw15-col
for export in runs/cpu-sw/export/sw6.safetensors runs/cpu-sw-cw15/export/cw15.safetensors; do
    [ -f $export ] || { echo "$export: not found (evaluate_sw6.sh / evaluate_cw15.sh make it)"; exit 2; }
done
bash $HERE/make_decoders.sh $LOGS cw15col.safetensors \
    " to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw) to step 1,363, then optim.content_weight=1.5 (runs/cpu-sw-cw15) to step 1,680, then also optim.colour_weight=100 (runs/cpu-sw-cw15-col)"
bash $HERE/evaluate_stage.sh cw15col $LOGS $LOGS/export/cw15col.safetensors
[ "${1:-}" = --outside ] || exit 0
bash $HERE/evaluate_outside.sh cw15col $LOGS
.venv/bin/python experiments/cpu_imagenet/reconstruct.py runs/cpu-sw/export/sw6.safetensors $LOGS/export/cw15col.safetensors \
    --json $HERE/reconstruction_512_cw15col.json --figure $HERE/reconstruction_512_cw15col.jpg | tee $LOGS/reconstruct.log
