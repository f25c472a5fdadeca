"""The halo measure at wider bands: are a decoder's rims missed where they are wider than the
measure's 4-px band (`adain.evaluation.flaws.halo`'s band and ring)?  Scores the outputs an eval.py
run already wrote, per variant, at each (band, ring) in px:

    .venv/bin/python experiments/eval/artefacts/halo_widths.py runs/eval/pairing_c_supersample \
        runs/eval/pairing_c_distil_x2 --out experiments/eval/artefacts/halo_widths.json

Pixels only (no network): ~1 min for 200 outputs on one core.
"""

import argparse
import json
from pathlib import Path

import torch
from eval_outputs import mean_scores

from adain.evaluation.flaws import HALO_BAND, HALO_RING, halo

WIDTHS = ((HALO_BAND, HALO_RING), (8, 18), (12, 27))  # (band, ring) px at the measure's working size; the first its own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+", help="eval.py run dirs (metrics.csv, outputs/)")
    parser.add_argument("--out", type=Path, required=True, help="JSON: run → variant → 'band/ring' → mean halo")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = mean_scores(args.run_dirs, lambda output, content, style: {
        f"{band}/{ring}": float(halo(output, content, band, ring)) for band, ring in WIDTHS}, with_style=False)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
