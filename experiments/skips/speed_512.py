"""512² stylisation time of the skip decoder (the default) against the previous default, untiled, in one process.

    .venv/bin/python experiments/skips/speed_512.py [--repeat 5]

`adain bench --against` times each decoder on the path `adain stylize` takes, the style encoded
each time; this compares the networks themselves: both untiled (tile=0), fp32 + channels_last, the
style's statistics computed once, alternating A B A B … so that a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from adain.methods.adain import DECODER_VGG16_IMAGENET, SHIPPED_DECODER, load_adain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 512, 512, generator=generator)
    style = torch.rand(1, 3, 512, 512, generator=generator)
    models = {path.name: load_adain(path, precision="fp32").model for path in (DECODER_VGG16_IMAGENET, SHIPPED_DECODER)}
    stats = {name: model.style_stats(style) for name, model in models.items()}
    times = {name: [] for name in models}
    with torch.inference_mode():
        for name, model in models.items():  # warm-up
            model(content, [stats[name]])
        for _ in range(args.repeat):
            for name, model in models.items():
                start = time.perf_counter()
                model(content, [stats[name]])
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.3f} s of {args.repeat}")
    previous, skips = medians[DECODER_VGG16_IMAGENET.name], medians[SHIPPED_DECODER.name]
    print(f"skips / previous default: {skips / previous:.3f}x ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
