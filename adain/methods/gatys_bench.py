"""`adain bench --method gatys`: seconds per optimisation iteration, fast path vs reference.

Both run the same optimisation (L-BFGS, content init, the default losses) in the same process on
the same seeded inputs:
  reference — fp32 encoder weights, NCHW, no autocast;
  fast      — `load_gatys`'s path: weights in the resolved dtype (bf16 on AMX/AVX512-BF16
              CPUs and CUDA), channels_last, autocast; image and losses in fp32.
One iteration is one forward + backward pass + one optimiser step.  Reported: the median time
of `--repeat` iterations after one warm-up iteration, and the ratio reference/fast.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from argparse import Namespace

import torch

from adain.encoders import build_encoder
from adain.methods.gatys import DEFAULT_POOLING, GatysOptions, GatysStylizer
from adain.methods.base import StyleCode
from adain.runtime import prepare_for_inference


def seconds_per_iteration(stylizer: GatysStylizer, content: torch.Tensor, style: torch.Tensor, repeat: int) -> float:
    """Median wall time between iteration callbacks, the first (warm-up) iteration excluded."""
    stamps: list[float] = []

    def on_step(step, losses, image):
        if stylizer.device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    with torch.no_grad():
        code = StyleCode(style, stylizer._style_features(style))
    stylizer._stylize(content, [code], None, None, iterations=repeat + 1, scales=1, progress=False, callback=on_step)
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:]))


def bench_iterations(args: Namespace, device: torch.device, dtype: torch.dtype) -> int:
    encoder = build_encoder(args.encoder, pooling=DEFAULT_POOLING)
    options = GatysOptions(progress=False)
    reference = GatysStylizer(copy.deepcopy(encoder).to(device), torch.float32, options, torch.contiguous_format)
    fast = GatysStylizer(prepare_for_inference(encoder, device, dtype), dtype, options, torch.channels_last)
    repeat = max(1, args.repeat)
    print(f"gatys, device {device}, fast path dtype {str(dtype).replace('torch.', '')} + channels_last, "
          f"{torch.get_num_threads()} threads, seconds per iteration (median of {repeat})")
    print(f"{'size':>6} {'reference s/it':>15} {'fast s/it':>10} {'speed-up':>9}")
    generator = torch.Generator().manual_seed(0)
    results = []
    for size in args.size:
        content = torch.rand(1, 3, size, size, generator=generator)
        style = torch.rand(1, 3, size, size, generator=generator)
        ref_s = seconds_per_iteration(reference, content, style, repeat)
        fast_s = seconds_per_iteration(fast, content, style, repeat)
        results.append({"method": "gatys", "size": size, "unit": "seconds per iteration", "reference_s": ref_s,
                        "fast_s": fast_s, "speedup": ref_s / fast_s, "dtype": str(dtype), "device": str(device),
                        "threads": torch.get_num_threads(), "encoder": args.encoder, "pooling": DEFAULT_POOLING,
                        "optimizer": options.optimizer})
        print(f"{size:>6} {ref_s:>15.3f} {fast_s:>10.3f} {ref_s / fast_s:>8.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
