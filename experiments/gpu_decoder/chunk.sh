#!/usr/bin/env bash
# One slice of GPU training, run on the lent machine from the repository root:
#
#   bash experiments/gpu_decoder/chunk.sh [MINUTES] [key=value ...]      (default 8 minutes)
#
# The device call carries `.carry` (experiments/gpu_decoder/pack_carry.py).  The run continues
# from runs/gpu/checkpoints/latest.pt when the machine is still warm from the last slice, else
# from .carry/resume.pt (a slim checkpoint brought back by an earlier slice); with neither, it
# starts from configs/train/gpu.yaml's init_decoder only when FRESH=1 is set (a bare machine and
# a forgotten `pack_carry.py --resume` would otherwise silently start the run over).  Into $OUT go
# slim copies of latest.pt and best.pt (5.9 MB each; the device returns files of at most 16 MiB),
# metrics.jsonl, the last validation grid and the log; training is killed a minute after its own
# time limit, so the copies are made even if it hangs.  Extra key=value arguments override the
# config (tests use them to run on a CPU); PYTHON, RUN_DIR, CARRY and OUT may be set.
set -euo pipefail
minutes=${1:-8}
shift || true
out=${OUT:-/tmp/adain-chunk-out}
run_dir=${RUN_DIR:-runs/gpu}
carry=${CARRY:-.carry}
python=${PYTHON:-python3}  # the GPU image: its python3 holds torch
mkdir -p "$out" "$run_dir/checkpoints"
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=30
if ! "$python" -c "import omegaconf" 2>/dev/null; then  # the GPU image lacks it: install the carried wheels
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$carry"/wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$python" -c "from PIL import features; assert features.check('webp'), 'this Pillow cannot read WebP'"
if [ ! -f "$run_dir/checkpoints/latest.pt" ]; then
    if [ -f "$carry/resume.pt" ]; then
        cp "$carry/resume.pt" "$run_dir/checkpoints/latest.pt"
        echo "chunk: a bare machine; continuing from $carry/resume.pt"
    elif [ "${FRESH:-0}" != 1 ]; then
        echo "chunk: error: no run to continue ($run_dir/checkpoints/latest.pt, $carry/resume.pt); set FRESH=1 to start one" >&2
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
timeout "$limit_s" "$python" train.py --config configs/train/gpu.yaml --resume auto "run_dir=$run_dir" \
    "time_limit_min=$minutes" "$@" ${workers[@]+"${workers[@]}"} 2>&1 | tee "$out/train.log" || status=$?
"$python" - "$run_dir" "$out" <<'PY'
import sys
from pathlib import Path
from adain.checkpoint import write_slim_checkpoint
run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("latest", "best"):
    source = run_dir / "checkpoints" / f"{name}.pt"
    if source.is_file():
        write_slim_checkpoint(source, out / f"{name}-slim.pt")
grids = sorted((run_dir / "samples" / "val").glob("grid_*.png"))
if grids:
    (out / "val_grid.png").write_bytes(grids[-1].read_bytes())
metrics = run_dir / "metrics.jsonl"
if metrics.is_file():
    (out / "metrics.jsonl").write_bytes(metrics.read_bytes())
PY
exit $status
