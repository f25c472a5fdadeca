#!/usr/bin/env bash
# Everything this experiment's README reports, after the training run (~20 min on the 2-core CPU):
# the decoders, both pairings, design.md's protocol, the colour breakdown, the 512² speed against
# the shipped decoder, and the outputs-only sheet.  Logs under runs/cpu-bilinear-colour/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/cpu_bilinear_colour
LOGS=runs/cpu-bilinear-colour
bash $HERE/make_decoders.sh
for pairing in a b; do
    .venv/bin/python eval.py --config $HERE/eval_$pairing.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/cpu_bilinear_colour_$pairing/report.md $HERE/eval_${pairing}_report.md
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder $LOGS/export/colour.safetensors \
    --json $HERE/protocol_colour.json > $LOGS/protocol.log
.venv/bin/python $HERE/posthoc_colour.py runs/eval/cpu_bilinear_colour_b | tee $HERE/posthoc_colour_b.txt
.venv/bin/adain bench --size 512 --repeat 5 --decoder $LOGS/export/colour.safetensors \
    --against adain/weights/decoder-vgg16-imagenet.safetensors --json $HERE/bench_512.json | tee $LOGS/bench.log
.venv/bin/python $HERE/outputs_sheet.py runs/eval/cpu_bilinear_colour_b \
    --methods shippednearest bilinearfine-tune_step500 bilinearcolourterm magenta --pairs 16 --size 192 --out $HERE/outputs_pairing_b.jpg
