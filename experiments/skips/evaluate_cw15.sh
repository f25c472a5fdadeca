#!/usr/bin/env bash
# The seventh stage's figures (README, "Seventh stage"): the sixth stage (the default decoder,
# runs/cpu-sw step 1363) trained on with optim.content_weight=1.5 in runs/cpu-sw-cw15, exported as
# cw15.safetensors (its last checkpoint averaged with the two kept before it, chosen by nothing);
# pairings A and B beside the default and Magenta, design.md's protocol and the EfficientNet content
# distance taken apart; with --outside also pairing C, the wave style's per-tap gap, the frame's
# sources and decode(encode(x)) of the 40 content/val photos at 512 px.  Logs under runs/cpu-sw-cw15/.
# (Run once without --outside, stopped in the protocol: A and B had settled it, README "Seventh stage".)
# The sixth stage's export must exist (evaluate_sw6.sh makes it before runs/cpu-sw trains on).
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw-cw15
[ -f runs/cpu-sw/export/sw6.safetensors ] || { echo "runs/cpu-sw/export/sw6.safetensors: not found (the sixth stage's export)"; exit 2; }
bash $HERE/make_decoders.sh $LOGS cw15.safetensors \
    " to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw) to step 1,363, then optim.content_weight=1.5 (runs/cpu-sw-cw15)"
bash $HERE/evaluate_stage.sh cw15 $LOGS $LOGS/export/cw15.safetensors
[ "${1:-}" = --outside ] || exit 0
bash $HERE/evaluate_outside.sh cw15 $LOGS
.venv/bin/python experiments/cpu_imagenet/reconstruct.py runs/cpu-sw/export/sw6.safetensors $LOGS/export/cw15.safetensors \
    --json $HERE/reconstruction_512_cw15.json --figure $HERE/reconstruction_512_cw15.jpg | tee $LOGS/reconstruct.log
