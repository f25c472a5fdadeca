"""Reconstruction fidelity of decoders: decode(encode(x)) of the content/val photos at 512 px.

    .venv/bin/python tools/reconstruct.py \
        adain/weights/decoder-vgg16-hed.safetensors adain/weights/decoder-vgg16-imagenet-mix.safetensors \
        --json /tmp/reconstruction.json --figure /tmp/reconstruction.jpg

Each photo: centre square, resized to --size² (512 by default); each decoder with the
encoder its weights name.  PSNR (RGB) and SSIM (luminance) from adain.evaluation.reconstruction,
the measures eval.py reports.  The figure shows, per row, a photo from scikit-image (which may be
checked in) and each decoder's reconstruction; the scores cover the whole content/val folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adain import load  # noqa: E402
from adain.cli.examples import example_contents  # noqa: E402
from adain.core.io import open_image, pil_to_tensor, save_image  # noqa: E402
from adain.evaluation.reconstruction import reconstruct, reconstruction_scores  # noqa: E402
from adain.train.data import center_square, list_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("decoders", nargs="+", help="decoder files (.safetensors or train.py checkpoints)")
    parser.add_argument("--pack", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--limit", type=int, default=0, help="first N content/val photos (0: all)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figure", type=Path, help="JPEG: the built-in example photos and their reconstructions")
    args = parser.parse_args()

    photos = list_images(args.pack / "content" / "val")
    photos = photos[: args.limit] if args.limit else photos
    results = []
    figure_rows = [[pil_to_tensor(center_square(open_image(p), args.size))] for p in example_contents()]
    for decoder in args.decoders:
        model = load(decoder, precision="fp32").model
        scores = [reconstruction_scores(reconstruct(model, pil_to_tensor(center_square(open_image(p), args.size))),
                                        pil_to_tensor(center_square(open_image(p), args.size))) for p in photos]
        result = {"decoder": decoder, "encoder": model.encoder.spec.name, "photos": len(photos), "size": args.size,
                  **{k: statistics.mean(s[k] for s in scores) for k in scores[0]}}
        print(json.dumps(result), flush=True)
        results.append(result)
        for row in figure_rows:
            row.append(reconstruct(model, row[0]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.figure:
        grid = torch.cat([torch.cat(row, dim=3) for row in figure_rows], dim=2)
        save_image(torch.nn.functional.interpolate(grid, scale_factor=0.5, mode="bilinear", antialias=True),
                   args.figure, quality=88)


if __name__ == "__main__":
    main()
