"""Where an evaluation run's frame scores come from (docs/evaluation.md, "The frame score and
the photos' own border lines").

The frame score (adain.evaluation.artefacts) divides the output's border ratio — gradient energy in
the outer 8-px band over the next band inwards — by the content's, so that what the photo itself
has at its border cancels out.  That holds only where the output keeps what the photo has there.
This prints, from an evaluation run's metrics.csv and its saved outputs:

1. Per content (centre square at the protocol size): its border ratio, and per side the gradient
   energy of its outermost 3 px over the energy inside the 16-px ring (a scanner's or camera's
   border line, a few pixels wide, shows as several-fold on that side).
2. Per variant over its pairs: the mean frame score, the mean border ratio of its outputs alone
   (1 = its border band as busy as the band inside it), and the frame score with `--trim` px cut
   from all four sides of output and content alike (a line in the outermost pixels drops out;
   a decoder's frame, 4–8 px wide, stays in).

    .venv/bin/python tools/frame_sources.py runs/eval/pairing_c
    .venv/bin/python tools/frame_sources.py runs/eval/pairing_c_stages --pair "norefine[supersample=1]" \
        "shipped-x2[supersample=2]"      # and A − B of the trimmed score, paired over the pairs

3. With `--pair A B`: the per-pair difference A − B of the trimmed score, its mean with a 95 %
   bootstrap interval (tools/paired_measures.py's) and on how many pairs A is lower.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

import torch

from adain.core.io import load_image
from adain.evaluation.artefacts import border_ratio, frame_score, gradient_energy
from adain.evaluation.pairs import ImageStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_measures import bootstrap_interval  # noqa: E402  (tools/ is no package)

EDGE_PX = 3  # outermost rows/columns that a scan or sensor border line occupies
INSIDE_PX = 16  # the reference: everything further in than both 8-px bands of the frame score


def side_lines(content: torch.Tensor) -> dict[str, float]:
    """Per side, the mean gradient energy of the outermost EDGE_PX px (corners left out) over the
    mean energy inside INSIDE_PX px.  content (1, 3, H, W) → {"top": …, "bottom": …, …}."""
    energy = gradient_energy(content)[0]  # (H − 1, W − 1)
    inside = energy[INSIDE_PX:-INSIDE_PX, INSIDE_PX:-INSIDE_PX].mean().clamp(min=1e-12)
    span = slice(INSIDE_PX, -INSIDE_PX)
    sides = {"top": energy[:EDGE_PX, span], "bottom": energy[-EDGE_PX:, span],
             "left": energy[span, :EDGE_PX], "right": energy[span, -EDGE_PX:]}
    return {side: float(values.mean() / inside) for side, values in sides.items()}


def trimmed(image: torch.Tensor, px: int) -> torch.Tensor:
    return image[..., px:-px, px:-px] if px else image


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--trim", type=int, default=EDGE_PX, help="px cut from every side for the trimmed score")
    parser.add_argument("--pair", nargs=2, metavar=("A", "B"), help="two variants: A − B of the trimmed score")
    args = parser.parse_args()
    metrics = args.run_dir / "metrics.csv"
    if not metrics.is_file():
        print(f"frame_sources.py: error: {metrics}: not found; expected an evaluation run directory", file=sys.stderr)
        sys.exit(2)
    with open(metrics, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["frame"]]

    store = ImageStore()
    contents: dict[str, torch.Tensor] = {}
    for row in rows:
        if row["content"] not in contents:
            contents[row["content"]] = store.content(Path(row["content_path"]), int(row["size"]))

    print(f"contents ({len(contents)}): border ratio; outermost {EDGE_PX} px over the inside, per side")
    for name, image in contents.items():
        lines = "  ".join(f"{side} {value:5.2f}" for side, value in side_lines(image).items())
        print(f"  {name:38s} {float(border_ratio(image)):5.2f}   {lines}")

    by_variant: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    trimmed_by_pair: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for row in rows:
        output = load_image(args.run_dir / row["output"])
        content = contents[row["content"]]
        scores = by_variant[row["variant"]]
        scores["frame"].append(float(frame_score(output, content)))
        scores["own"].append(float(border_ratio(output)))
        scores["trimmed"].append(float(frame_score(trimmed(output, args.trim), trimmed(content, args.trim))))
        trimmed_by_pair[row["variant"]][(row["content"], row["style"])] = scores["trimmed"][-1]
    print(f"\nper variant, mean over its pairs: frame score | its outputs' own border ratio | "
          f"frame score with {args.trim} px trimmed from every side")
    for variant, scores in by_variant.items():
        means = {key: sum(values) / len(values) for key, values in scores.items()}
        print(f"  {variant:40s} {means['frame']:.3f} | {means['own']:.3f} | {means['trimmed']:.3f}"
              f"   ({len(scores['frame'])} pairs)")
    if args.pair:
        a, b = args.pair
        missing = [name for name in (a, b) if name not in trimmed_by_pair]
        if missing:
            print(f"frame_sources.py: error: {missing[0]!r}: no such variant; expected one of {sorted(trimmed_by_pair)}",
                  file=sys.stderr)
            sys.exit(2)
        pairs = sorted(set(trimmed_by_pair[a]) & set(trimmed_by_pair[b]))
        diffs = [trimmed_by_pair[a][p] - trimmed_by_pair[b][p] for p in pairs]
        low, high = bootstrap_interval(diffs, random.Random("frame_trimmed"))
        print(f"\ntrimmed {args.trim} px, {a} − {b}: {sum(diffs) / len(diffs):+.4f} [{low:+.4f}, {high:+.4f}], "
              f"A lower on {sum(d < 0 for d in diffs)}/{len(diffs)} pairs")


if __name__ == "__main__":
    main()
