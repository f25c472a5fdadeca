#!/usr/bin/env bash
# The fourth stage's figures (README, "Fourth stage: a sliced Wasserstein term"): its export,
# pairings A and B beside the default and Magenta, design.md's protocol, the EfficientNet content
# distance taken apart, pairing C (images from outside the pack: get_images.py first) and the
# wave style's per-tap gap.  Logs under runs/cpu-sw/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw
bash $HERE/make_decoders.sh $LOGS sw.safetensors \
    " to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw)"
bash $HERE/evaluate_stage.sh sw $LOGS $LOGS/export/sw.safetensors
.venv/bin/python eval.py --config experiments/outside_pairs/eval_c_sw.yaml wandb.mode=offline > $LOGS/eval-c.log 2>&1
cp runs/eval/outside_c_sw/report.md experiments/outside_pairs/eval_c_sw_report.md
.venv/bin/python $HERE/style_gap.py runs/eval/skips_sw_a --pair bsds_112090.jpg artflow_wave_kanagawa.jpg \
    | tee $HERE/style_gap_a_sw.txt
