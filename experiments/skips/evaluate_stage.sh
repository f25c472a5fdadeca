#!/usr/bin/env bash
# One stage's figures on pairings A and B and design.md's protocol, the reports copied here:
#   bash experiments/skips/evaluate_stage.sh TAG LOGS EXPORT
# TAG names eval_{a,b}_TAG.yaml (run dirs runs/eval/skips_TAG_{a,b}) and the files written
# (eval_{a,b}_TAG_report.md, effnet_content_{a,b}_TAG.txt, protocol_skips_TAG.json); LOGS is the
# training run's directory (logs go there); EXPORT the decoder the protocol scores.
# Used by evaluate_id25.sh, evaluate_long.sh and the sliced Wasserstein stages (evaluate_sw*.sh, evaluate_cw15.sh).
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
TAG=$1 LOGS=$2 EXPORT=$3
for pairing in b a; do
    .venv/bin/python eval.py --config $HERE/eval_${pairing}_$TAG.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/skips_${TAG}_$pairing/report.md $HERE/eval_${pairing}_${TAG}_report.md
    .venv/bin/python experiments/structure/effnet_content.py runs/eval/skips_${TAG}_$pairing \
        | tee $HERE/effnet_content_${pairing}_$TAG.txt
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder "$EXPORT" --json $HERE/protocol_skips_$TAG.json \
    > $LOGS/protocol.log
