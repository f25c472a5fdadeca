"""How far does each method's output move the content's layout?  (issue 14, structure term)

For each method's saved outputs of an evaluation run: adain.losses.structure_loss (the MSE of
instance-normalised vgg16-imagenet features against the content's) at relu1_1…relu4_1, averaged
over pairs — the quantity `optim.structure_weight` prices, measured on outputs no loss of ours
produced (Magenta's) to see whether it separates the methods at all, and to set the weight.

    .venv/bin/python experiments/structure/measure.py runs/eval/palette_b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from adain.data import center_square
from adain.encoders import STYLE_TAPS, build_encoder
from adain.io import open_image, pil_to_tensor
from adain.losses import structure_loss
from effnet_content import _contents_by_stem  # this folder is on sys.path when the script runs


@torch.no_grad()
def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="an eval.py run folder with outputs/ and config.yaml")
    parser.add_argument("--size", type=int, default=384, help="shorter side the content is scored at")
    args = parser.parse_args(argv)
    contents = _contents_by_stem(args.run_dir)
    encoder = build_encoder("vgg16-imagenet").eval()
    content_feats = {}
    print(f"{'method':24s} " + " ".join(f"{tap:>8s}" for tap in STYLE_TAPS))
    for method_dir in sorted(p for p in (args.run_dir / "outputs").iterdir() if p.is_dir()):
        per_tap = {tap: [] for tap in STYLE_TAPS}
        for output_path in sorted(method_dir.glob("*.png")):
            stem = output_path.stem.split("__")[0]
            if stem not in content_feats:
                image = pil_to_tensor(center_square(open_image(contents[stem]), args.size))  # as the harness
                content_feats[stem] = encoder(image, taps=STYLE_TAPS)
            output = pil_to_tensor(open_image(output_path))  # (1, 3, S, S), the content's centre square
            reference = content_feats[stem]
            output_feats = encoder(output, taps=STYLE_TAPS)
            for tap in STYLE_TAPS:
                per_tap[tap].append(structure_loss(output_feats, reference, (tap,)).item())
        print(f"{method_dir.name:24s} " + " ".join(f"{sum(v) / len(v):8.3f}" for v in per_tap.values()))


if __name__ == "__main__":
    torch.set_num_threads(1)  # beside a training run
    main(sys.argv[1:])
