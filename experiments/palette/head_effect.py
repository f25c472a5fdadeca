"""Does a palette decoder's head change its colours?  (issue 14)

For each checkpoint or decoder file given: stylise a few val pairs at 256² and report the RMS, over
pairs and RGB channels, of (μ_c(output) − μ_c(style)) — once as the decoder is, once with its
palette head's output layer zeroed (the same trunk, told nothing of the palette).  A decoder without
a head gets a zero one, so both numbers are its own.  Also the mean |w| of the head's output layer.

    .venv/bin/python experiments/palette/head_effect.py runs/cpu-palette-fast-head/checkpoints/step_*.pt \
        --contents /work/pack384/content/val --styles /work/pack384/style/val
"""

from __future__ import annotations

import argparse
import copy

import torch

from adain.data import center_square, list_images
from adain.encoders import build_encoder
from adain.io import open_image, pil_to_tensor, resize_shorter
from adain.model import AdaINModel
from adain.weights import load_decoder


def palette_error(model: AdaINModel, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    errors = []
    with torch.inference_mode():
        for content, style in pairs:
            output = model(content, [model.style_stats(style)]).clamp(0, 1)
            errors.append(output.mean((2, 3)) - style.mean((2, 3)))  # (1, 3)
    return torch.cat(errors).square().mean().sqrt().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("decoders", nargs="+")
    parser.add_argument("--contents", required=True)
    parser.add_argument("--styles", required=True)
    parser.add_argument("--count", type=int, nargs=2, default=(3, 4), metavar=("CONTENTS", "STYLES"))
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)  # beside a training run
    contents = [pil_to_tensor(center_square(open_image(p), args.size)) for p in list_images(args.contents)[:args.count[0]]]
    styles = [pil_to_tensor(resize_shorter(open_image(p), args.size)) for p in list_images(args.styles)[:args.count[1]]]
    pairs = [(c, s) for c in contents for s in styles]
    encoder = build_encoder("vgg16-imagenet").eval()
    print(f"{'decoder':60s} {'step':>5s} {'head |w|':>9s} {'RMS mean error':>15s} {'head zeroed':>12s}")
    for path in args.decoders:
        decoder, metadata = load_decoder(path)
        if decoder.palette_head is None:
            decoder.add_palette_head()
        blind = copy.deepcopy(decoder)
        torch.nn.init.zeros_(blind.palette_head[2].weight)
        torch.nn.init.zeros_(blind.palette_head[2].bias)
        scores = []
        for network in (decoder, blind):
            model = AdaINModel(encoder, network.eval())
            model.memory_format = torch.contiguous_format
            scores.append(palette_error(model, pairs))
        head_size = decoder.palette_head[2].weight.abs().mean().item()
        print(f"{path:60s} {str(metadata.get('step', '-')):>5s} {head_size:9.4f} {scores[0]:15.4f} {scores[1]:12.4f}")


if __name__ == "__main__":
    main()
