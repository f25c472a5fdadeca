"""How far is each method's output palette from its style's?  (issue 14, companion of probe.py)

For each method's saved outputs of an evaluation run: the RMS, over pairs and RGB channels, of
(μ_c(output) − μ_c(style)) and of (σ_c(output) − σ_c(style)), the style at the run's size — the
same units as probe.py's RMS error of predicting the style's palette from relu4_1 statistics.

    .venv/bin/python experiments/palette/output_error.py runs/eval/cpu_bilinear_colour_b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cpu_bilinear_colour"))
from posthoc_colour import _styles_by_stem  # noqa: E402  (the style list of an evaluation run)

from adain.io import open_image, pil_to_tensor, resize_shorter  # noqa: E402


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="an eval.py run folder with outputs/ and config.yaml")
    parser.add_argument("--size", type=int, default=384, help="shorter side the style is scored at")
    args = parser.parse_args(argv)
    styles = _styles_by_stem(args.run_dir)
    print(f"{'method':40s} {'RMS mean error':>15s} {'RMS std error':>14s}")
    for method_dir in sorted(p for p in (args.run_dir / "outputs").iterdir() if p.is_dir()):
        mean_errors, std_errors = [], []
        for output_path in sorted(method_dir.glob("*.png")):
            output = pil_to_tensor(open_image(output_path))  # (1, 3, H, W) in [0, 1]
            style = pil_to_tensor(resize_shorter(open_image(styles[output_path.stem.split("__")[1]]), args.size))
            mean_errors.append(output.mean((2, 3)) - style.mean((2, 3)))  # (1, 3)
            std_errors.append(output.std((2, 3)) - style.std((2, 3)))
        rms_mean = torch.cat(mean_errors).square().mean().sqrt().item()
        rms_std = torch.cat(std_errors).square().mean().sqrt().item()
        print(f"{method_dir.name:40s} {rms_mean:15.4f} {rms_std:14.4f}   ({len(mean_errors)} pairs)")


if __name__ == "__main__":
    torch.set_num_threads(1)  # beside a training run
    main(sys.argv[1:])
