"""Peak resident memory of one tiled stylisation, a decoder with and without skip inputs.

    .venv/bin/python experiments/bench/tile_memory.py DECODER [--skips] [--dtype bfloat16] [--masks]

Stylises a 1536² noise image at a fixed 640-px tile (784² with the 72-px halos; --tile 0:
untiled), once to warm up and once measured, and prints the process's peak RSS (ru_maxrss).  Run it in a fresh process
per setting: the difference between two runs, over 784², is the per-pixel cost
adain.inference.tiling.SKIP_TILE_BYTES_PER_PIXEL budgets for.  --skips adds zero-initialised skip inputs
to DECODER (the cost does not depend on the weights).  --masks: two styles, the left half of
the image to one (a skip decoder then holds its shallow targets: SKIP_MASKED_TILE_BYTES_PER_PIXEL).
"""

from __future__ import annotations

import argparse
import resource

import numpy as np
import torch
from PIL import Image

from adain.methods.adain import AdaINStylizer
from adain.nn.decoder import SKIP_TAPS
from adain.nn.decoder import load_decoder
from adain.nn.model import AdaINModel
from adain.nn.pretrained import build_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("decoder")
    parser.add_argument("--skips", action="store_true", help="add skip inputs at every tap of SKIP_TAPS")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--tile", type=int, default=640, help="tile side (0: untiled)")
    parser.add_argument("--masks", action="store_true", help="two styles, split by a mask")
    args = parser.parse_args()
    torch.set_num_threads(1)
    decoder, metadata = load_decoder(args.decoder)
    if args.skips:
        decoder.add_skips(SKIP_TAPS)
    model = AdaINModel(build_encoder(metadata["encoder"]), decoder).eval().to(getattr(torch, args.dtype))
    stylizer = AdaINStylizer(model)
    rng = np.random.default_rng(0)
    content = Image.fromarray((rng.random((1536, 1536, 3)) * 255).astype(np.uint8))
    style = Image.fromarray((rng.random((256, 256, 3)) * 255).astype(np.uint8))
    styles, options = style, {}
    if args.masks:
        left = torch.zeros(1, 1, 1536, 1536)
        left[..., :768] = 1
        styles, options = [style, style.transpose(Image.Transpose.ROTATE_90)], {"masks": left}
    for _ in range(2):
        stylizer.stylize(content, styles, tile=args.tile, content_size=0, style_size=256, max_memory=64 << 30,
                         **options)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.decoder} skips={args.skips} {args.dtype} tile={args.tile}{' masks' * args.masks}: "
          f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
