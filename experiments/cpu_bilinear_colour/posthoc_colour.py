"""How much of a decoder's colour distance is its palette's mean and spread? (issue 14)

For each method's saved outputs of an evaluation run, the colour W1 of design.md's harness
(`adain.evaluation.metrics.color_wasserstein`, output vs the style at the run's size) as it is,
after shifting each RGB channel's mean to the style's, and after matching mean and std; plus the
training term `adain.losses.colour_stats_loss`.  If matching two moments closes most of the gap to
Magenta, a decoder can be taught the palette by the colour term.

    .venv/bin/python experiments/cpu_bilinear_colour/posthoc_colour.py runs/eval/cpu_bilinear_b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from adain.evaluation.metrics import color_wasserstein
from adain.io import open_image, pil_to_tensor, resize_shorter
from adain.losses import colour_stats_loss


def _styles_by_stem(run_dir: Path) -> dict[str, Path]:
    """{style stem: path} from the style list the evaluation run was configured with."""
    from omegaconf import OmegaConf

    listing = Path(OmegaConf.load(run_dir / "config.yaml").style)
    return {Path(line).stem: (listing.parent / line).resolve()
            for line in listing.read_text().split() if line}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="an eval.py run folder with outputs/ and config.yaml")
    parser.add_argument("--size", type=int, default=384, help="shorter side the style is scored at")
    args = parser.parse_args(argv)
    styles = _styles_by_stem(args.run_dir)
    print(f"{'method':40s} {'W1':>7s} {'W1 mean-shifted':>16s} {'W1 mean+std':>12s} {'colour term':>12s}")
    for method_dir in sorted(p for p in (args.run_dir / "outputs").iterdir() if p.is_dir()):
        rows = []
        for output_path in sorted(method_dir.glob("*.png")):
            style_stem = output_path.stem.split("__")[1]
            output = pil_to_tensor(open_image(output_path))  # (1, 3, H, W) in [0, 1]
            style = pil_to_tensor(resize_shorter(open_image(styles[style_stem]), args.size))
            mean_o, std_o = output.mean((2, 3), keepdim=True), output.std((2, 3), keepdim=True)
            mean_s, std_s = style.mean((2, 3), keepdim=True), style.std((2, 3), keepdim=True)
            shifted = (output - mean_o + mean_s).clamp(0, 1)
            matched = ((output - mean_o) / std_o * std_s + mean_s).clamp(0, 1)
            rows.append(torch.stack([color_wasserstein(output, style)[0], color_wasserstein(shifted, style)[0],
                                     color_wasserstein(matched, style)[0], colour_stats_loss(output, style)]))
        means = torch.stack(rows).mean(0).tolist()
        print(f"{method_dir.name:40s} {means[0]:7.4f} {means[1]:16.4f} {means[2]:12.4f} {means[3]:12.4f}   ({len(rows)} pairs)")


if __name__ == "__main__":
    torch.set_num_threads(1)  # beside a training run
    main(sys.argv[1:])
