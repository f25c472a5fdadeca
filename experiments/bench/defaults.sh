#!/usr/bin/env bash
# Peak RSS and wall time of `adain stylize` at 4K and 8K at the defaults and with the fastest
# setting that fits this machine (issue 15: defaults bounded, at most 1.25× the fastest's wall
# time).  Each run is a fresh process under /usr/bin/time; run it on an otherwise idle machine.
# Writes content_{4k,8k}.jpg, out_*.jpg and results.txt under $B.
set -u
cd "$(dirname "$0")/../.."
B=${B:-/tmp/adain-defaults}
mkdir -p "$B"
.venv/bin/python - "$B" <<'PY'
import sys
from PIL import Image
out = sys.argv[1]
src = Image.open("../shared/data/content/val/adain_flowers.jpg").convert("RGB")
for name, (w, h) in {"4k": (3840, 2160), "8k": (7680, 4320)}.items():
    scale = max(w / src.width, h / src.height)
    big = src.resize((round(src.width * scale), round(src.height * scale)), Image.Resampling.LANCZOS)
    left, top = (big.width - w) // 2, (big.height - h) // 2
    big.crop((left, top, left + w, top + h)).save(f"{out}/content_{name}.jpg", quality=95)
PY
# The plan each setting gets (tile side, kept map), as adain stylize chooses it
.venv/bin/python - <<'PY' | tee "$B/plans.txt"
import torch
from adain.inference import tiling
from adain.methods.adain import load_adain
model = load_adain().model
for name, (h, w) in {"4k": (2160, 3840), "8k": (4320, 7680)}.items():
    for budget in (None, 8 << 30, 12 << 30):
        print(name, "defaults" if budget is None else f"--max-memory {budget >> 30}G",
              tiling.choose_tile(model, h, w, max_memory=budget, image_bytes_per_pixel=tiling.OWN_IMAGE_BYTES_PER_PIXEL))
PY
run() {  # label, size, extra flags
  echo "== $1: $3 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "$1 peak_rss_kib=%M wall_s=%e" .venv/bin/python -m adain stylize \
    --content "$B/content_$2.jpg" --style ../shared/data/style/val/adain_la_muse.jpg --content-size 0 \
    --output "$B/out_$1.jpg" --overwrite --no-progress $3
}
{
  run 4k-default 4k ""
  run 4k-max-memory-12G 4k "--max-memory 12G"
  run 8k-default 8k ""
  run 8k-max-memory-8G 8k "--max-memory 8G"
} 2>&1 | tee "$B/results.txt"
