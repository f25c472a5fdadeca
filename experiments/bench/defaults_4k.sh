#!/usr/bin/env bash
# 4K at the defaults with the default (skip) decoder and untiled with --max-memory 12G; needs
# $B/content_4k.jpg from experiments/bench/defaults.sh (B=/tmp/adain-defaults).  defaults_4k.txt holds
# the runs, with the plain GPU decoder (no longer shipped) as "previous".
cd "$(dirname "$0")/../.."
B=${B:-/tmp/adain-defaults}
run() {
  echo "== $1: $2 (load $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "$1 peak_rss_kib=%M wall_s=%e" .venv/bin/python -m adain stylize \
    --content $B/content_4k.jpg --style ../shared/data/style/val/adain_la_muse.jpg --content-size 0 \
    --output "$B/out_$1.jpg" --overwrite --no-progress $2
}
run 4k-default-skips ""
run 4k-max-memory-12G-skips "--max-memory 12G"
# 8K at the defaults (~10 min; needs $B/content_8k.jpg): EIGHT_K=1 bash experiments/bench/defaults_4k.sh
if [ "${EIGHT_K:-0}" = 1 ]; then
  /usr/bin/time -f "8k-default-skips peak_rss_kib=%M wall_s=%e" .venv/bin/python -m adain stylize \
    --content $B/content_8k.jpg --style ../shared/data/style/val/adain_la_muse.jpg --content-size 0 \
    --output "$B/out_8k-default-skips.jpg" --overwrite --no-progress
fi
