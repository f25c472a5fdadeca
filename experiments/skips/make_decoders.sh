# The decoders eval_*.yaml add: runs/cpu-skips/export/skips.safetensors, the skip run's last
# checkpoint averaged with the two step_*.pt kept before it (chosen by nothing, as the palette
# export was), and the same of its continuation with half the identity weight
# (runs/cpu-skips-id25/export/skips-id25.safetensors).  The palette decoder it started from is made
# by experiments/palette/make_decoders.sh when missing.
#   bash experiments/skips/make_decoders.sh [RUN_DIR EXPORT_NAME [RECIPE_TAIL]]   (default: both runs)
set -eu
cd "$(dirname "$0")/../.."
export_run() {  # run dir, export file name
    local out="$1/export" run="$1/checkpoints"
    [ -f "$run/latest.pt" ] || { echo "$run/latest.pt: not found, skipped"; return; }
    mkdir -p "$out"
    local last_step earlier
    last_step=$(.venv/bin/python -c "from adain.checkpoint import load_checkpoint; print(load_checkpoint('$run/latest.pt')['step'])")
    earlier=$(ls "$run"/step_*.pt | sort | while read -r f; do
        step=$((10#$(basename "$f" .pt | sed 's/step_//'))); [ "$step" -lt "$last_step" ] && echo "$f"; done | tail -2)
    echo "$2: step $last_step averaged with" $earlier
    .venv/bin/python -m adain export "$run/latest.pt" "$out/$2" --average-with $earlier \
        --set recipe="the palette decoder (experiments/palette), then configs/train/cpu_skips.yaml$3" \
        hardware="2-core AVX2 CPU, fp32"
}
if [ $# -ge 2 ]; then
    export_run "$1" "$2" "${3:-}"
else  # the first stage's warm start, for the eval configs that still compare it
    [ -f runs/cpu-palette/export/palette.safetensors ] || bash experiments/palette/make_decoders.sh
    [ -f runs/cpu-skips/export/skips.safetensors ] || export_run runs/cpu-skips skips.safetensors ""
    export_run runs/cpu-skips-id25 skips-id25.safetensors \
        " to step 556, then optim.identity_weight=0.25 (runs/cpu-skips-id25)"
fi
