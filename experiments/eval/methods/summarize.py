"""Tables and a figure for experiments/eval/README.md ("Every method") from an eval.py run directory.

    .venv/bin/python experiments/eval/methods/summarize.py runs/eval/methods

Writes, next to this script: `same_pairs.json` (means of every variant over the pairs that *all*
variants ran: the Johnson network's style × the 8 contents), `summary.json` (the run's own
means, copied), `tradeoff.png` (copied) and `grid.jpg` (AdaIN α=1 | previous AdaIN decoder |
Gatys | Johnson | Magenta on four of those pairs, 192 px tiles: outputs only, because the pack's
own images stay out of the repository; the run's contact_sheet.jpg shows them beside the outputs).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
COLUMNS = ["rel_content", "rel_style", "ssim", "style_gram", "color_w1", "frame", "grid", "edge_f",
           "style_top1", "style_rank", "effnet_content", "effnet_style_mean_std", "effnet_style_gram", "stylize_ms"]
GRID_VARIANTS = ["adain[alpha=1]", "adain-hed", "gatys", "johnson", "magenta"]
TILE = 192


def main(run_dir: Path) -> None:
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    pairs_of = defaultdict(set)
    for row in rows:
        pairs_of[row["variant"]].add((row["content"], row["style"]))
    shared = set.intersection(*pairs_of.values())
    means = {}
    for variant in pairs_of:
        chosen = [r for r in rows if r["variant"] == variant and (r["content"], r["style"]) in shared]
        means[variant] = {"pairs": len(chosen),
                          **{c: sum(float(r[c]) for r in chosen) / len(chosen) for c in COLUMNS}}
    (HERE / "same_pairs.json").write_text(json.dumps(means, indent=2) + "\n")
    shutil.copy(run_dir / "summary.json", HERE / "summary.json")
    shutil.copy(run_dir / "tradeoff.png", HERE / "tradeoff.png")

    by_key = {(r["variant"], r["content"], r["style"]): r for r in rows}
    shown = sorted(shared)[:4]
    grid = Image.new("RGB", (TILE * len(GRID_VARIANTS), TILE * len(shown)), "white")
    for y, (content, style) in enumerate(shown):
        images = [Image.open(run_dir / by_key[(v, content, style)]["output"]) for v in GRID_VARIANTS]
        for x, image in enumerate(images):
            image = image.convert("RGB")
            side = min(image.size)  # centre square, as the protocol crops the content
            left, top = (image.width - side) // 2, (image.height - side) // 2
            tile = image.crop((left, top, left + side, top + side)).resize((TILE, TILE), Image.LANCZOS)
            grid.paste(tile, (x * TILE, y * TILE))
    grid.save(HERE / "grid.jpg", quality=88)
    for variant, values in means.items():
        print(f"{variant:>18} n={values['pairs']:>2} " + " ".join(f"{c}={values[c]:.4g}" for c in COLUMNS))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/eval/methods"))
