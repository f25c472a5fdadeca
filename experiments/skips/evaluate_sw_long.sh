#!/usr/bin/env bash
# The fifth stage's figures (README, "Fifth stage"): the fourth stage (runs/cpu-sw, step 371) resumed
# with the same recipe for one more chunk, exported as sw-long.safetensors (its last checkpoint
# averaged with the two kept before it); pairings A and B beside the default, the fourth stage's
# export and Magenta, design.md's protocol, the EfficientNet content distance taken apart, pairing C
# (get_images.py first), the wave style's per-tap gap and the frame's sources.  Logs under runs/cpu-sw/.
# The fourth stage's export (sw.safetensors) must exist: evaluate_sw.sh makes it.
# It exports from the run's latest checkpoints: the fifth stage is steps 650/700/746; once the run has
# trained on (the sixth stage, evaluate_sw6.sh), re-running it exports the later steps instead.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-sw
bash $HERE/make_decoders.sh $LOGS sw-long.safetensors \
    " to step 1,440 (identity 0.25 from step 556), then configs/train/cpu_sw.yaml (sliced Wasserstein term, runs/cpu-sw)"
bash $HERE/evaluate_stage.sh sw_long $LOGS $LOGS/export/sw-long.safetensors
.venv/bin/python eval.py --config experiments/outside_pairs/eval_c_sw_long.yaml wandb.mode=offline > $LOGS/eval-c.log 2>&1
cp runs/eval/outside_c_sw_long/report.md experiments/outside_pairs/eval_c_sw_long_report.md
.venv/bin/python $HERE/style_gap.py runs/eval/skips_sw_long_a --pair bsds_112090.jpg artflow_wave_kanagawa.jpg \
    | tee $HERE/style_gap_a_sw_long.txt
{ echo "# .venv/bin/python experiments/outside_pairs/frame_sources.py runs/eval/outside_c_sw_long"
  .venv/bin/python experiments/outside_pairs/frame_sources.py runs/eval/outside_c_sw_long; } \
    | tee experiments/outside_pairs/frame_sources_c.txt
