"""`adain bench`: warm latency of one stylisation, fast path vs a plain fp32 reference.

Both run the same network (encoder, AdaIN, decoder) in the same process on the same inputs:
  reference — fp32 weights, NCHW, eager;
  fast      — this project's default path (bf16 + channels_last where the hardware is fast);
  fast, style reused — the fast path with the style statistics computed once beforehand, as
              `adain stylize` does for a batch of contents.
Reported: the median of `--repeat` timed runs after one warm-up, and the ratio reference/fast.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from argparse import Namespace

import torch

from adain.decoder import Decoder
from adain.encoders import build_encoder
from adain.model import AdaINModel
from adain.runtime import prepare_for_inference, resolve_device, resolve_dtype
from adain.weights import load_decoder


def _median_seconds(fn, repeat: int, device: torch.device) -> float:
    fn()  # warm-up: allocations, oneDNN kernel selection
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_bench(args: Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.precision, device)
    if args.decoder:
        decoder, _ = load_decoder(args.decoder)
    else:
        torch.manual_seed(0)
        decoder = Decoder("vgg16" if args.encoder == "vgg16-hed" else "vgg19")
    encoder = build_encoder(args.encoder)
    reference = AdaINModel(copy.deepcopy(encoder), copy.deepcopy(decoder)).to(device).eval()
    reference.memory_format = torch.contiguous_format
    fast = prepare_for_inference(AdaINModel(encoder, decoder), device, dtype)

    results = []
    print(f"device {device}, fast path dtype {str(dtype).replace('torch.', '')} + channels_last, "
          f"{torch.get_num_threads()} threads, median of {args.repeat}")
    print(f"{'size':>6} {'reference s':>12} {'fast s':>8} {'speed-up':>9} {'fast, style reused s':>21}")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for size in args.size:
            content = torch.rand(1, 3, size, size, generator=generator).to(device)
            style = torch.rand(1, 3, size, size, generator=generator).to(device)
            ref_s = _median_seconds(lambda: reference(content, [reference.style_stats(style)]), args.repeat, device)
            fast_s = _median_seconds(lambda: fast(content, [fast.style_stats(style)]), args.repeat, device)
            stats = fast.style_stats(style)
            reused_s = _median_seconds(lambda: fast(content, [stats]), args.repeat, device)
            row = {"size": size, "reference_s": ref_s, "fast_s": fast_s, "speedup": ref_s / fast_s,
                   "fast_style_reused_s": reused_s, "dtype": str(dtype), "device": str(device),
                   "threads": torch.get_num_threads(), "encoder": args.encoder}
            results.append(row)
            print(f"{size:>6} {ref_s:>12.3f} {fast_s:>8.3f} {ref_s / fast_s:>8.2f}x {reused_s:>21.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
