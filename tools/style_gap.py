"""Where a style gap between two methods sits, per style and per encoder tap.

1. Per style, each variant's mean rel style (design.md's number, vgg16-hed) over its contents,
   read from an evaluation run's metrics.csv.
2. For one content × style pair, that number split by vgg16-hed tap (relu1_1 … relu4_1) for each
   variant's saved output, against the style image at the protocol size (shorter side 384), with
   the RGB mean and std of the output and of the style.

    .venv/bin/python tools/style_gap.py runs/eval/pairing_a \\
        --pair bsds_112090.jpg artflow_wave_kanagawa.jpg
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import torch

from adain.core.io import load_image
from adain.nn.functional import mean_std
from adain.nn.losses.distances import relative_style_stats
from adain.nn.pretrained import build_encoder

TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
STYLE_SIZE = 384


def per_style(rows: list[dict]) -> None:
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        values[row["style"]][row["variant"]].append(float(row["rel_style"]))
    print("mean rel style (vgg16-hed) per style:")
    for style, by_variant in values.items():
        print(f"  {style}: " + ", ".join(f"{variant} {sum(v) / len(v):.3f}" for variant, v in by_variant.items()))


@torch.no_grad()
def per_tap(run_dir: Path, rows: list[dict], content: str, style: str) -> None:
    encoder = build_encoder("vgg16-hed").eval()
    chosen = [row for row in rows if row["content"] == content and row["style"] == style]
    if not chosen:
        _fail(f"--pair {content} {style}: not in {run_dir / 'metrics.csv'}; expected a content and style it scored")
    style_rgb = load_image(chosen[0]["style_path"], size=STYLE_SIZE)
    style_stats = {tap: mean_std(f) for tap, f in encoder(style_rgb, taps=TAPS).items()}
    print(f"rel style per tap, {content} × {style}; style RGB mean {_rgb(style_rgb.mean(dim=(2, 3)))}, "
          f"std {_rgb(style_rgb.std(dim=(2, 3)))}:")
    for row in chosen:
        output = load_image(run_dir / row["output"])
        stats = {tap: mean_std(f) for tap, f in encoder(output, taps=TAPS).items()}
        parts = "  ".join(f"{tap} {float(relative_style_stats(stats, style_stats, [tap])):.3f}" for tap in TAPS)
        print(f"  {row['variant']}: {parts}; RGB mean {_rgb(output.mean(dim=(2, 3)))}, "
              f"std {_rgb(output.std(dim=(2, 3)))}")


def _fail(message: str) -> None:
    print(f"style_gap.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def _rgb(values: torch.Tensor) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in values.flatten().tolist()) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pair", nargs=2, metavar=("CONTENT", "STYLE"))
    args = parser.parse_args()
    metrics = args.run_dir / "metrics.csv"
    if not metrics.is_file():
        _fail(f"{metrics}: not found; expected an evaluation run directory")
    with open(metrics, newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_style(rows)
    if args.pair:
        per_tap(args.run_dir, rows, *args.pair)


if __name__ == "__main__":
    main()
