#!/usr/bin/env bash
# The sixth stage's figures (README, "Sixth stage"): the sliced Wasserstein run (runs/cpu-sw) trained on
# from step 921 with the same recipe, exported as sw6.safetensors (its last checkpoint averaged with the
# two kept before it, chosen by nothing); pairings A and B beside the default, the fifth stage's export
# (sw-long.safetensors, steps 650/700/746: evaluate_sw_long.sh made it before this chunk ran) and
# Magenta, design.md's protocol, the EfficientNet content distance taken apart, pairing C
# (get_images.py first), the wave style's per-tap gap and the frame's sources.  Logs under runs/cpu-sw/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw
[ -f $LOGS/export/sw-long.safetensors ] || { echo "$LOGS/export/sw-long.safetensors: not found (the fifth stage's export)"; exit 2; }
bash $HERE/make_decoders.sh $LOGS sw6.safetensors \
    " to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw)"
bash $HERE/evaluate_stage.sh sw6 $LOGS $LOGS/export/sw6.safetensors
bash $HERE/evaluate_outside.sh sw6 $LOGS
# decode(encode(x)) of the 40 content/val photos at 512 px (issue 14's reconstruction measure): the
# vgg16-hed decoder (the default before issue 14), the default, the fifth stage and the sixth.
.venv/bin/python experiments/cpu_imagenet/reconstruct.py adain/weights/decoder-vgg16-hed.safetensors \
    adain/weights/decoder-vgg16-imagenet-skips.safetensors $LOGS/export/sw-long.safetensors $LOGS/export/sw6.safetensors \
    --json $HERE/reconstruction_512_sw6.json --figure $HERE/reconstruction_512_sw6.jpg | tee $LOGS/reconstruct.log
