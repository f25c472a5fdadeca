"""Speed of Conv3x3's CPU inference path without the reflection-padded copy vs with it: one 512²
stylisation (content + style encoding, decoding) with the shipped decoder, the two forms
interleaved in one process, median of 7 after one warm-up each.

    .venv/bin/python experiments/bench/conv_copy_ab.py
"""

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from adain.methods.adain import load_adain  # noqa: E402
from adain.nn import layers  # noqa: E402


def with_copy(self, x):  # Conv3x3.forward before: always the padded copy
    if self.padding == "reflect":
        return F.conv2d(layers.reflect_pad1(x), self.weight, self.bias)
    return F.conv2d(x, self.weight, self.bias, padding=1)


def main() -> None:
    model = load_adain().model.eval()
    forms = {"with copy": with_copy, "without copy": layers.Conv3x3.forward}
    content, style = torch.rand(1, 3, 512, 512), torch.rand(1, 3, 512, 512)
    times = {name: [] for name in forms}
    with torch.inference_mode():
        for repeat in range(8):
            for name, forward in forms.items():
                layers.Conv3x3.forward = forward
                start = time.perf_counter()
                model(content, [model.style_stats(style)])
                if repeat:  # the first round warms up
                    times[name].append(time.perf_counter() - start)
    layers.Conv3x3.forward = forms["without copy"]
    medians = {name: statistics.median(values) for name, values in times.items()}
    print({name: round(value, 3) for name, value in medians.items()},
          f"speed-up {medians['with copy'] / medians['without copy']:.2f}x, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
