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


def run_train_bench(args: Namespace, device: torch.device, dtype: torch.dtype) -> int:
    """Training throughput (images/s): full steps (forward, backward, Adam) at --batch × size²."""
    from adain.config import TrainConfig
    from adain.training import _autocast, train_step

    cfg = TrainConfig()
    encoder = build_encoder(args.encoder)
    generator = torch.Generator().manual_seed(0)
    results = []
    print(f"training steps, batch {args.batch}, device {device}, {torch.get_num_threads()} threads, median of {args.repeat}")
    print(f"{'size':>6} {'reference img/s':>16} {'fast img/s':>11} {'speed-up':>9}")
    for size in args.size:
        content = torch.rand(args.batch, 3, size, size, generator=generator).to(device)
        style = torch.rand(args.batch, 3, size, size, generator=generator).to(device)
        timings = {}
        for name, step_dtype, memory_format in (("reference", torch.float32, torch.contiguous_format),
                                                ("fast", dtype, torch.channels_last)):
            torch.manual_seed(0)
            model = AdaINModel(copy.deepcopy(encoder), Decoder(encoder.spec.arch)).to(device, memory_format=memory_format)
            model.memory_format = memory_format
            optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-4)
            batch = (content.contiguous(memory_format=memory_format), style.contiguous(memory_format=memory_format))

            def step():
                losses = train_step(model, model.decoder, *batch, cfg, _autocast(device, step_dtype))
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizer.step()

            timings[name] = _median_seconds(step, args.repeat, device)
        ref_rate, fast_rate = args.batch / timings["reference"], args.batch / timings["fast"]
        results.append({"mode": "train", "size": size, "batch": args.batch, "reference_images_per_s": ref_rate,
                        "fast_images_per_s": fast_rate, "speedup": fast_rate / ref_rate, "dtype": str(dtype),
                        "device": str(device), "threads": torch.get_num_threads(), "encoder": args.encoder})
        print(f"{size:>6} {ref_rate:>16.2f} {fast_rate:>11.2f} {fast_rate / ref_rate:>8.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


def run_bench(args: Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.precision, device)
    if args.train:
        return run_train_bench(args, device, dtype)
    if args.method != "adain":  # each baseline times itself: adain.methods.<name>.run_bench(args, device, dtype)
        from importlib import import_module

        return import_module(f"adain.methods.{args.method}").run_bench(args, device, dtype)
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
