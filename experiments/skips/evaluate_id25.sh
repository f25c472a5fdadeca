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
for pairing in b a; do
    .venv/bin/python eval.py --config $HERE/eval_${pairing}_id25.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/skips_id25_$pairing/report.md $HERE/eval_${pairing}_id25_report.md
    .venv/bin/python experiments/structure/effnet_content.py runs/eval/skips_id25_$pairing | tee $HERE/effnet_content_${pairing}_id25.txt
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder $LOGS/export/skips-id25.safetensors \
    --json $HERE/protocol_skips_id25.json > $LOGS/protocol.log
.venv/bin/python experiments/palette/output_error.py runs/eval/skips_id25_b | tee $HERE/output_error_b_id25.txt
