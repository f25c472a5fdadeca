#!/usr/bin/env bash
# Everything this experiment's README reports after the training run (~15 min on the 2-core CPU):
# the decoder, both pairings, design.md's protocol, the EfficientNet content distance taken apart,
# the structure distance, palette error and fine detail, the 512² speed against the shipped
# decoder, and the outputs-only sheet.  Logs under runs/cpu-structure/.
set -eu
cd "$(dirname "$0")/../.."
HERE=experiments/structure
LOGS=runs/cpu-structure
bash $HERE/make_decoders.sh
for pairing in b a; do
    .venv/bin/python eval.py --config $HERE/eval_$pairing.yaml wandb.mode=offline > $LOGS/eval-$pairing.log 2>&1
    cp runs/eval/structure_$pairing/report.md $HERE/eval_${pairing}_report.md
    .venv/bin/python $HERE/effnet_content.py runs/eval/structure_$pairing | tee $HERE/effnet_content_$pairing.txt
done
.venv/bin/python experiments/cpu_decoder/evaluate.py --decoder $LOGS/export/structure.safetensors \
    --json $HERE/protocol_structure.json > $LOGS/protocol.log
.venv/bin/python $HERE/measure.py runs/eval/structure_b | tee $HERE/structure_b.txt
.venv/bin/python experiments/palette/output_error.py runs/eval/structure_b | tee $HERE/output_error_b.txt
.venv/bin/python experiments/palette/detail.py runs/eval/structure_b | tee $HERE/detail_b.txt
.venv/bin/adain bench --size 512 --repeat 5 --decoder $LOGS/export/structure.safetensors \
    --against adain/weights/decoder-vgg16-imagenet.safetensors --json $HERE/bench_512.json | tee $LOGS/bench.log
.venv/bin/python experiments/cpu_bilinear_colour/outputs_sheet.py runs/eval/structure_b \
    --methods shippednearest paletteinput structureterm magenta --pairs 16 --size 192 --out $HERE/outputs_pairing_b.jpg
