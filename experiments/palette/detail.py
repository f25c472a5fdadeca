"""How much fine detail do a method's outputs have?  (issue 14: the EfficientNet content gap)

For each method's saved outputs of an evaluation run, on luminance (BT.601): the mean absolute
Laplacian (a 3×3 second difference: edges and texture at 1–2 px) and the RMS of what a 4× box
down-and-up-sampling removes (detail finer than ~4 px).  Measured on outputs only, no network.

    .venv/bin/python experiments/palette/detail.py runs/eval/cpu_bilinear_colour_b runs/eval/cpu_bilinear_b
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from adain.io import open_image, pil_to_tensor

LAPLACIAN = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float32).view(1, 1, 3, 3)


def detail(rgb: torch.Tensor) -> tuple[float, float]:
    """(1, 3, H, W) in [0, 1] → (mean |Laplacian|, RMS of the detail below ~4 px) of its luminance."""
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)  # (1, 1, H, W)
    coarse = F.interpolate(F.avg_pool2d(luma, 4), size=luma.shape[-2:], mode="bilinear", align_corners=False)
    return F.conv2d(luma, LAPLACIAN).abs().mean().item(), (luma - coarse).square().mean().sqrt().item()


def main(run_dirs: list[str]) -> None:
    print(f"{'run':28s} {'method':36s} {'|Laplacian|':>12s} {'detail <4 px':>13s}")
    run_dirs = list(dict.fromkeys(run_dirs))
    _print_contents(Path(run_dirs[0]))
    for run_dir in map(Path, run_dirs):
        for method_dir in sorted(p for p in (run_dir / "outputs").iterdir() if p.is_dir()):
            scores = torch.tensor([detail(pil_to_tensor(open_image(p))) for p in sorted(method_dir.glob("*.png"))])
            laplacian, fine = scores.mean(0).tolist()
            print(f"{run_dir.name:28s} {method_dir.name:36s} {laplacian:12.4f} {fine:13.4f}   ({len(scores)} pairs)")


def _print_contents(run_dir: Path) -> None:
    """The same for the run's content images as the harness scores them (centre square at its size)."""
    from omegaconf import OmegaConf

    from adain.data import center_square

    config = OmegaConf.load(run_dir / "config.yaml")
    listing = Path(config.content)
    paths = [(listing.parent / line).resolve() for line in listing.read_text().split() if line]
    scores = torch.tensor([detail(pil_to_tensor(center_square(open_image(p), int(config.size)))) for p in paths])
    laplacian, fine = scores.mean(0).tolist()
    print(f"{run_dir.name:28s} {'(the content photos)':36s} {laplacian:12.4f} {fine:13.4f}   ({len(paths)} photos)")


if __name__ == "__main__":
    torch.set_num_threads(1)  # beside a training run
    main(sys.argv[1:])
