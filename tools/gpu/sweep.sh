#!/usr/bin/env bash
# Several slices of the default recipe side by side on one lent GPU, one per setting (e.g. a loss
# balance), so that the setting can be chosen afterwards by measures outside the training objective:
#
#   FRESH=1 bash tools/gpu/sweep.sh MINUTES NAME:key=value,key=value [NAME:…]
#
# e.g.  FRESH=1 bash tools/gpu/sweep.sh 7.5 s5:optim.style_weight=5 s10:optim.style_weight=10
#
# A key=value reaches every stage that does not set the key itself (adain/train/stages.py).  Whether two
# runs cost less than twice one is not measured: in the first GPU session each of two ran at 90
# images/s, and one run alone was never timed (the processes share the GPU by time slices).
# Each NAME runs chunk.sh with RUN_DIR=runs/gpu-NAME and the DataLoader workers shared out among
# the runs.  The device returns at most 8 files, so each run comes back as $OUT/NAME.tar
# (latest-slim.pt, metrics.jsonl, val_grid.png, train.log, the decoder once the recipe is done)
# plus $OUT/NAME-best.pt.  Extra environment (FRESH, PYTHON, CARRY) passes through; RUNS moves the
# run folders (default runs/).
set -uo pipefail
minutes=${1:?usage: sweep.sh MINUTES NAME:key=value,... [NAME:...]}
shift
[ $# -ge 1 ] || { echo "sweep: error: no run given; expected NAME:key=value,..." >&2; exit 2; }
out=${OUT:-/tmp/adain-sweep-out}
cores=$(nproc)
workers=$(( (cores - $#) / $# ))
[ "$workers" -ge 1 ] || workers=0
kit=$(dirname "$0")
for spec in "$@"; do  # every name checked before any run starts
    name=${spec%%:*}
    case "$name" in ''|*[!A-Za-z0-9_-]*) echo "sweep: error: run name '$name': expected letters, digits, _ or -" >&2; exit 2;; esac
done
pids=()
names=()
for spec in "$@"; do
    name=${spec%%:*}
    settings=${spec#*:}
    [ "$settings" = "$spec" ] && settings=""
    IFS=, read -r -a overrides <<< "$settings"
    mkdir -p "$out/$name"
    RUN_DIR=${RUNS:-runs}/gpu-$name OUT=$out/$name bash "$kit/chunk.sh" "$minutes" "data.workers=$workers" \
        ${overrides[@]+"${overrides[@]}"} > "$out/$name/sweep.log" 2>&1 &
    pids+=($!)
    names+=("$name")
done
status=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "sweep: run ${names[$i]} failed (exit $?); its log follows" >&2; status=1; }
    name=${names[$i]}
    tail -n 25 "$out/$name/sweep.log"
    [ -f "$out/$name/best-slim.pt" ] && mv "$out/$name/best-slim.pt" "$out/$name-best.pt"
    tar -C "$out/$name" -cf "$out/$name.tar" . && rm -r "${out:?}/$name"
done
exit $status
