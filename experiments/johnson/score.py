"""Score a Johnson network on the validation contents × its own style, at 384², and draw a grid.

    .venv/bin/python experiments/johnson/score.py adain/weights/johnson-vangogh.safetensors \
        --style ../shared/data/style/val/gordic_vg_self.jpg --grid experiments/johnson/grid.jpg

Prints the mean relative content / style loss (design.md, fp32 vgg16-hed encoder) of the Johnson
outputs and, for reference, of the shipped AdaIN decoder on the same pairs.  Content images are
centre squares resized to 384² (as training validation does); the style is resized to 384 on its
shorter side.
"""

from __future__ import annotations

import argparse
import json

import torch

from adain.core.io import open_image, pil_to_tensor, resize_shorter, save_image
from adain.methods.adain import load_adain
from adain.methods.johnson.stylizer import load_johnson
from adain.nn.losses.distances import measure_relative_content, measure_relative_style
from adain.nn.pretrained import build_encoder
from adain.train.data import center_square, list_images
from adain.train.loop import image_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a johnson .safetensors or train.py checkpoint")
    parser.add_argument("--style", required=True, help="the style image the network was trained on")
    parser.add_argument("--content", default="../shared/data/content/val")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--limit", type=int, default=0, help="score only the first N contents (0: all)")
    parser.add_argument("--grid", help="write a JPEG grid (content over johnson output) of 4 contents here")
    parser.add_argument("--json", help="also write the numbers as JSON")
    args = parser.parse_args()

    encoder = build_encoder("vgg16-hed")  # the metrics' fp32 encoder
    johnson = load_johnson(args.model, "cpu", "auto")
    adain = load_adain(device="cpu")
    style = pil_to_tensor(resize_shorter(open_image(args.style), args.size))  # (1, 3, size, w)
    style_code = adain.encode_style(style, size=0)
    files = list_images(args.content)[: args.limit or None]
    scores = {"johnson": {"rel_content": [], "rel_style": []}, "adain": {"rel_content": [], "rel_style": []}}
    shown = {"content": [], "johnson": []}
    for index, path in enumerate(files):
        content = pil_to_tensor(center_square(open_image(path), args.size))  # (1, 3, size, size)
        outputs = {"johnson": johnson.stylize(content, None, content_size=0),
                   "adain": adain.stylize(content, style_code, content_size=0, supersample=1)}
        for name, out in outputs.items():
            scores[name]["rel_content"].append(measure_relative_content(encoder, out, content).item())
            scores[name]["rel_style"].append(measure_relative_style(encoder, out, style).item())
        if index < 4:
            shown["content"].append(content)
            shown["johnson"].append(outputs["johnson"])
    summary = {name: {key: sum(values) / len(values) for key, values in numbers.items()}
               for name, numbers in scores.items()}
    summary["pairs"], summary["size"] = len(files), args.size
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    if args.grid:
        # columns: the 4 contents; rows: content, johnson output (each 256² in the grid)
        rows = [torch.cat(shown[name]) for name in ("content", "johnson")]
        save_image(image_grid(rows, size=256), args.grid, quality=85)


if __name__ == "__main__":
    main()
