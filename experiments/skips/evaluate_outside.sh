#!/usr/bin/env bash
# One stage's figures beyond pairings A and B: pairing C (images from outside ../shared/data,
# experiments/outside_pairs/get_images.py first), the wave style's per-tap gap on pairing A and the
# frame's sources on pairing C, each written here under the stage's TAG:
#   bash experiments/skips/evaluate_outside.sh TAG LOGS
# Needs experiments/outside_pairs/eval_c_TAG.yaml and pairing A's run (evaluate_stage.sh TAG ...).
# Used by evaluate_sw6.sh and evaluate_cw15.sh.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
TAG=$1 LOGS=$2
.venv/bin/python eval.py --config experiments/outside_pairs/eval_c_$TAG.yaml wandb.mode=offline > $LOGS/eval-c.log 2>&1
cp runs/eval/outside_c_$TAG/report.md experiments/outside_pairs/eval_c_${TAG}_report.md
.venv/bin/python $HERE/style_gap.py runs/eval/skips_${TAG}_a --pair bsds_112090.jpg artflow_wave_kanagawa.jpg \
    | tee $HERE/style_gap_a_$TAG.txt
{ echo "# .venv/bin/python experiments/outside_pairs/frame_sources.py runs/eval/outside_c_$TAG"
  .venv/bin/python experiments/outside_pairs/frame_sources.py runs/eval/outside_c_$TAG; } \
    | tee experiments/outside_pairs/frame_sources_c_$TAG.txt
