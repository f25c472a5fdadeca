#!/usr/bin/env bash
# Everything this experiment's README reports after the training run (~15 min on the 2-core CPU):
# the decoders, both pairings, design.md's protocol, the palette errors and colour breakdown, the
# 512² speed against the shipped decoder, and the outputs-only sheet.  Logs under runs/cpu-palette/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/palette
LOGS=runs/cpu-palette
bash $HERE/make_decoders.sh
for pairing in b a; do
    .venv/bin/python eval.py --config $HERE/eval_$pairing.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/palette_$pairing/report.md $HERE/eval_${pairing}_report.md
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder $LOGS/export/palette.safetensors \
    --json $HERE/protocol_palette.json > $LOGS/protocol.log
.venv/bin/python $HERE/output_error.py runs/eval/palette_b | tee $HERE/output_error_b.txt
.venv/bin/python experiments/cpu_bilinear_colour/posthoc_colour.py runs/eval/palette_b | tee $HERE/posthoc_colour_b.txt
.venv/bin/adain bench --size 512 --repeat 5 --decoder $LOGS/export/palette.safetensors \
    --against adain/weights/decoder-vgg16-imagenet.safetensors --json $HERE/bench_512.json | tee $LOGS/bench.log
.venv/bin/python experiments/cpu_bilinear_colour/outputs_sheet.py runs/eval/palette_b \
    --methods shippednearest bilinearcolourterm paletteinput magenta --pairs 16 --size 192 --out $HERE/outputs_pairing_b.jpg
