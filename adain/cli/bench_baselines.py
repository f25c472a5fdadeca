"""`adain bench --method gatys|johnson`: the baselines' speeds.

gatys: seconds per optimisation iteration, fast path vs reference.  Both run the same optimisation (L-BFGS, content init, the default losses) in the same process on
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

from adain.cli.timing import image_dims, median_seconds
from adain.core.runtime import prepare_for_inference
from adain.methods.adain import load_adain
from adain.methods.base import StyleCode
from adain.methods.gatys import DEFAULT_POOLING, GatysOptions, GatysStylizer
from adain.methods.johnson import load_transformer
from adain.methods.johnson.network import TransformerNet
from adain.nn.pretrained import build_encoder


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


def bench_gatys(args: Namespace, device: torch.device, dtype: torch.dtype) -> int:
    """Seconds per iteration, fast path vs fp32 NCHW reference (module docstring)."""
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


def bench_johnson(args: Namespace, device: torch.device, dtype: torch.dtype) -> int:
    """Warm median seconds of one Johnson stylisation vs AdaIN's fast path, at each --size.

    Both run the same content, in the same process, on their fast paths (weights in `dtype`,
    channels_last).  AdaIN uses the shipped decoder with the style statistics computed
    beforehand (as `adain stylize` does for a batch), so both time content → image only.
    The Johnson network is `--johnson-model` when given, else a seeded untrained one (speed does
    not depend on the weights).
    """
    precision = "fp32" if dtype == torch.float32 else "bf16"
    model_path = getattr(args, "johnson_model", None)
    if model_path:
        network, _ = load_transformer(model_path)
    else:
        torch.manual_seed(0)
        network = TransformerNet()
    johnson = prepare_for_inference(network, device, dtype)
    adain_model = load_adain(args.decoder, None, str(device), precision).model
    results = []
    print(f"device {device}, dtype {str(dtype).replace('torch.', '')} + channels_last, "
          f"{torch.get_num_threads()} threads, median of {args.repeat}; adain: style statistics reused")
    print(f"{'size':>6} {'johnson s':>10} {'adain s':>8} {'adain/johnson':>14}")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for size in args.size:
            width, height = image_dims(size)
            content = torch.rand(1, 3, height, width, generator=generator).to(device)
            style_stats = adain_model.style_stats(torch.rand(1, 3, min(height, 512), min(width, 512),
                                                             generator=generator).to(device))
            x = content.to(dtype).contiguous(memory_format=torch.channels_last)
            johnson_s = median_seconds(lambda: johnson(x), args.repeat, device)
            adain_s = median_seconds(lambda: adain_model(content, [style_stats]), args.repeat, device)
            results.append({"method": "johnson", "size": size, "johnson_s": johnson_s, "adain_s": adain_s,
                            "adain_over_johnson": adain_s / johnson_s, "dtype": str(dtype), "device": str(device),
                            "threads": torch.get_num_threads()})
            print(f"{str(size):>6} {johnson_s:>10.3f} {adain_s:>8.3f} {adain_s / johnson_s:>13.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
