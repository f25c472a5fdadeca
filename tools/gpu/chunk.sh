#!/usr/bin/env bash
# One slice of the default recipe (configs/train/default.yaml) on a lent GPU machine, run from the
# repository root:
#
#   bash tools/gpu/chunk.sh [MINUTES] [key=value ...]      (default 8 minutes)
#
# The device call carries `.carry` (tools/gpu/pack_carry.py): the image pack, the encoder's first
# layers and the omegaconf wheels.  The recipe continues from $RUN_DIR's stage folders when the
# machine is still warm from the last slice, else from .carry/resume.pt (a slim checkpoint brought
# back by an earlier slice, put back into its stage's folder); with neither, it starts from the
# encoder alone only when FRESH=1 is set (a bare machine and a forgotten `pack_carry.py --resume`
# would otherwise silently start the recipe over).  Into $OUT go slim copies of the newest stage's
# latest.pt and best.pt (5.9 MB each; the device returns files of at most 16 MiB), metrics.jsonl,
# the last validation grid and the log, and the recipe's decoder.safetensors once its last stage is
# done; training is killed a minute after its own time limit, so the copies are made even if it
# hangs.  Extra key=value arguments override the recipe (tests use them to run on a CPU); PYTHON,
# RECIPE (another staged config), RUN_DIR, CARRY and OUT may be set.
set -euo pipefail
minutes=${1:-8}
shift || true
out=${OUT:-/tmp/adain-chunk-out}
run_dir=${RUN_DIR:-runs/default}
carry=${CARRY:-.carry}
python=${PYTHON:-python3}  # the GPU image: its python3 holds torch
recipe=${RECIPE:-configs/train/default.yaml}
mkdir -p "$out" "$run_dir"
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=30
if ! "$python" -c "import omegaconf" 2>/dev/null; then  # the GPU image lacks it: install the carried wheels
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$carry"/wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$python" -c "from PIL import features; assert features.check('webp'), 'this Pillow cannot read WebP'"
# What the machine has none of: the pack, the encoder weights.  The carried images are 288² squares
# at the 384-px scale (pack_carry.py), so they load at 288 as they are (a 512-px carry does not fit
# in 64 MiB; a stage that sets its own data.load_size upsamples them).
carried=("model.encoder_weights=$carry/vgg16-imagenet-relu4_1.safetensors"
         "data.content=$carry/data/content/train" "data.style=$carry/data/style/train"
         "data.val_content=$carry/data/content/val" "data.val_style=$carry/data/style/val"
         data.load_size=288 data.workers=8 compile=true)
resume=(--resume)
if ! compgen -G "$run_dir/*/checkpoints/latest.pt" >/dev/null; then
    if [ -f "$carry/resume.pt" ]; then
        # Into its own stage's folder, and named explicitly: a finished stage's checkpoint then starts
        # the next stage, and the stages before it are not re-run.
        target=$("$python" - "$recipe" "$carry/resume.pt" "run_dir=$run_dir" "$@" <<'PY'
import sys
from pathlib import Path
from adain.train.checkpoint import load_checkpoint
from adain.train.config import load_config
from adain.train.stages import stage_configs
recipe, checkpoint, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
name = load_checkpoint(checkpoint)["config"].get("stage")
folders = {stage.stage: stage.run_dir for stage in stage_configs(load_config(recipe, overrides))}
if name not in folders:
    sys.exit(f"chunk: error: {checkpoint} belongs to stage {name!r}; expected one of {sorted(folders)}")
print(Path(folders[name]) / "checkpoints" / "latest.pt")
PY
)
        mkdir -p "$(dirname "$target")"
        cp "$carry/resume.pt" "$target"
        resume=(--resume "$target")
        echo "chunk: a bare machine; continuing from $carry/resume.pt as $target"
    elif [ "${FRESH:-0}" = 1 ]; then
        resume=()
    else
        echo "chunk: error: no run to continue ($run_dir/*/checkpoints/latest.pt, $carry/resume.pt); set FRESH=1 to start one" >&2
        exit 2
    fi
fi
workers=()
shm_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
if [ -n "$shm_mb" ] && [ "$shm_mb" -lt 1024 ]; then  # DataLoader workers hand batches over in /dev/shm
    # (placed after the caller's overrides below, so that sweep.sh's data.workers cannot undo it)
    echo "chunk: /dev/shm has ${shm_mb} MB free; loading batches in the training process"
    workers=(data.workers=0)
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
status=0
limit_s=$(awk -v m="$minutes" 'BEGIN {printf "%d", m * 60 + 60}')
# --resume last: it takes an optional path
timeout "$limit_s" "$python" train.py --config "$recipe" "run_dir=$run_dir" "time_limit_min=$minutes" \
    "${carried[@]}" "$@" ${workers[@]+"${workers[@]}"} ${resume[@]+"${resume[@]}"} 2>&1 | tee "$out/train.log" \
    || status=$?
"$python" - "$run_dir" "$out" <<'PY'
import shutil
import sys
from pathlib import Path
from adain.train.checkpoint import write_slim_checkpoint
run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
# the newest stage: stage folders are named <k>-<name>, k from 1
stages = sorted((p.parent.parent for p in run_dir.glob("*/checkpoints/latest.pt")),
                key=lambda folder: int(folder.name.split("-", 1)[0]))
if stages:
    newest = stages[-1]
    for name in ("latest", "best"):
        source = newest / "checkpoints" / f"{name}.pt"
        if source.is_file():
            write_slim_checkpoint(source, out / f"{name}-slim.pt")
    grids = sorted((newest / "samples" / "val").glob("grid_*.png"))
    if grids:
        shutil.copyfile(grids[-1], out / "val_grid.png")
    if (newest / "metrics.jsonl").is_file():
        shutil.copyfile(newest / "metrics.jsonl", out / "metrics.jsonl")
for name in ("decoder.safetensors", "decoder.json"):  # the recipe's result, once its last stage is done
    if (run_dir / name).is_file():
        shutil.copyfile(run_dir / name, out / name)
PY
exit $status
