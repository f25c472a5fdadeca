#!/usr/bin/env bash
# The third stage's figures (README, "Third stage"): its export, pairings A and B beside the default
# (second stage) and Magenta, design.md's protocol, the EfficientNet content distance taken apart, and
# pairing C (images from outside the pack).  ~35 min on the 2-core CPU; the default's and Magenta's
# outputs come from the eval caches.  Logs under runs/cpu-skips-long/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-skips-long
bash $HERE/make_decoders.sh $LOGS skips-long.safetensors \
    " to step 556, then optim.identity_weight=0.25 (runs/cpu-skips-id25 to step 959, runs/cpu-skips-long)"
bash $HERE/evaluate_stage.sh long $LOGS $LOGS/export/skips-long.safetensors
.venv/bin/python eval.py --config experiments/outside_pairs/eval_c_long.yaml wandb.mode=offline > $LOGS/eval-c.log 2>&1
cp runs/eval/outside_c_long/report.md experiments/outside_pairs/eval_c_long_report.md
