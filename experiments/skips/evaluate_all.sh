#!/usr/bin/env bash
# Everything this experiment's README reports after the training run (~15 min on the 2-core CPU):
# the decoder, both pairings, design.md's protocol, the EfficientNet content distance taken apart,
# the palette error, the 512² speed against the shipped decoder, tile memory, and the outputs-only sheet.
# Logs under runs/cpu-skips/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/skips
LOGS=runs/cpu-skips
bash $HERE/make_decoders.sh
for pairing in b a; do
    .venv/bin/python eval.py --config $HERE/eval_$pairing.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/skips_$pairing/report.md $HERE/eval_${pairing}_report.md
    .venv/bin/python experiments/structure/effnet_content.py runs/eval/skips_$pairing | tee $HERE/effnet_content_$pairing.txt
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder $LOGS/export/skips.safetensors \
    --json $HERE/protocol_skips.json > $LOGS/protocol.log
.venv/bin/python experiments/palette/output_error.py runs/eval/skips_b | tee $HERE/output_error_b.txt
# both untiled (tile=0), the networks themselves; `adain bench --against` (README) times the path
# `adain stylize` takes
.venv/bin/python $HERE/speed_512.py --repeat 5 | tee $HERE/speed_512.txt
.venv/bin/python $HERE/tile_memory.py runs/cpu-palette/export/palette.safetensors > $HERE/tile_memory.txt
for args in "--skips" "--tile 0" "--tile 0 --skips" "--masks" "--masks --skips"; do
    .venv/bin/python $HERE/tile_memory.py runs/cpu-palette/export/palette.safetensors $args >> $HERE/tile_memory.txt
done
.venv/bin/python experiments/cpu_bilinear_colour/outputs_sheet.py runs/eval/skips_b \
    --methods shippednearest paletteinput skipinputs magenta --pairs 16 --size 192 --out $HERE/outputs_pairing_b.jpg
