"""The halo measure at wider bands: are a decoder's rims missed where they are wider than the
measure's 4-px band (`adain.evaluation.flaws.halo`'s band and ring)?  Scores the outputs an eval.py
run already wrote, per variant, at each (band, ring) in px:

    .venv/bin/python experiments/eval/artefacts/halo_widths.py runs/eval/pairing_c_supersample \
        runs/eval/pairing_c_distil_x2 --out experiments/eval/artefacts/halo_widths.json

Pixels only (no network): ~1 min for 200 outputs on one core.
"""

import argparse
import csv
import json
from pathlib import Path

import torch

from adain.core.io import open_image, pil_to_tensor
from adain.evaluation.flaws import HALO_BAND, HALO_RING, halo
from adain.train.data import center_square

WIDTHS = ((HALO_BAND, HALO_RING), (8, 18), (12, 27))  # (band, ring) px at the measure's working size; the first its own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+", help="eval.py run dirs (metrics.csv, outputs/)")
    parser.add_argument("--out", type=Path, required=True, help="JSON: run → variant → 'band/ring' → mean halo")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results, contents = {}, {}
    for run_dir in args.run_dirs:
        with (run_dir / "metrics.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        scores: dict[str, dict[str, list[float]]] = {}
        for row in rows:
            output = pil_to_tensor(open_image(run_dir / row["output"]))
            if row["content_path"] not in contents:  # the content as eval.py scores it: centre square
                contents[row["content_path"]] = open_image(Path(row["content_path"]))
            content = pil_to_tensor(center_square(contents[row["content_path"]], output.shape[-1]))
            for band, ring in WIDTHS:
                scores.setdefault(row["variant"], {}).setdefault(f"{band}/{ring}", []).append(
                    float(halo(output, content, band, ring)))
        results[str(run_dir)] = {variant: {width: sum(v) / len(v) for width, v in by_width.items()}
                                 for variant, by_width in scores.items()}
        for variant, means in results[str(run_dir)].items():
            print(f"{variant:<36}" + "".join(f"{w:>8} {m:.3f}" for w, m in means.items()), flush=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
