"""design.md's two scale-free numbers for a decoder on the 40 protocol pairs, and a grid of outputs.

    .venv/bin/python tools/protocol.py --decoder adain/weights/decoder-vgg16-imagenet-mix.safetensors

    .venv/bin/python tools/protocol.py --decoder magenta --style-offset 3

Protocol: content centre square crop resized to
384², style shorter side 384, α = 1; pair i is content/val[i] × style/val[7i mod 25], or
style/val[(7i + offset) mod 25] with --style-offset: other pairs of the same images, a second
opinion on a checkpoint chosen with the first.  `--decoder magenta` scores the reference model.  The grid
shows stylised outputs only: the pack's images themselves stay out of the repository.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adain import load  # noqa: E402
from adain.core.io import save_image  # noqa: E402
from adain.evaluation.magenta import load_magenta  # noqa: E402
from adain.nn.losses.distances import measure_relative_content, measure_relative_style
from adain.nn.pretrained import build_encoder
from adain.train.data import list_images  # noqa: E402
from adain.train.loop import ValidationSet, image_grid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder", required=True,
                        help="decoder file (.safetensors, training .pt), or `magenta` for the reference model")
    parser.add_argument("--pack", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--style-offset", type=int, default=0,
                        help="pair i uses style/val[(7i + offset) mod 25]: 0 is the protocol's pairs, "
                             "another offset other pairs of the same images")
    parser.add_argument("--grid", type=Path, help="write a grid of the first 8 outputs (JPEG)")
    parser.add_argument("--json", type=Path, help="write the scores as JSON")
    args = parser.parse_args()

    stylizer = load_magenta() if args.decoder == "magenta" else load(args.decoder)
    scorer = build_encoder("vgg16-hed")  # design.md's numbers: fp32 vgg16-hed features
    pairs = ValidationSet(list_images(args.pack / "content" / "val"), list_images(args.pack / "style" / "val"),
                          args.pairs, args.size, args.style_offset)
    outputs, content_scores, style_scores = [], [], []
    with torch.inference_mode():
        for i, style in enumerate(pairs.style):
            content = pairs.content[i: i + 1]
            out = stylizer.stylize(content, style, content_size=0, style_size=0, supersample=1)
            outputs.append(out)
            content_scores.append(measure_relative_content(scorer, out, content).item())
            style_scores.append(measure_relative_style(scorer, out, style).item())
    result = {"decoder": args.decoder, "pairs": len(outputs), "size": args.size, "style_offset": args.style_offset,
              "rel_content": sum(content_scores) / len(content_scores),
              "rel_style": sum(style_scores) / len(style_scores)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**result, "per_pair": list(zip(pairs.names, content_scores, style_scores))}, indent=2))
    if args.grid:
        shown = torch.cat(outputs[:8])
        grid = image_grid([shown[:4], shown[4:8]], size=192)
        save_image(grid, args.grid, quality=88)


if __name__ == "__main__":
    main()
