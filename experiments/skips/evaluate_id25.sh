#!/usr/bin/env bash
# The second stage's figures (README, "Second stage"): its export, both pairings beside the first
# stage, design.md's protocol, the EfficientNet content distance taken apart and the palette error
# (~25 min on the 2-core CPU; the first stage's and Magenta's outputs come from the eval cache).
# Logs under runs/cpu-skips-id25/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-skips-id25
bash $HERE/make_decoders.sh
bash $HERE/evaluate_stage.sh id25 $LOGS $LOGS/export/skips-id25.safetensors
.venv/bin/python experiments/palette/output_error.py runs/eval/skips_id25_b | tee $HERE/output_error_b_id25.txt
