"""`adain bench`: warm latency, throughput, FLOP rate and peak memory of one stylisation, fast
path vs a plain fp32 reference.

Both run the same network (encoder, AdaIN, decoder) on the same inputs (seeded random content
of the given size, a style of at most 512², as `adain stylize` uses):
  reference — fp32 weights, NCHW, eager, untiled; skipped where it would need more memory than
              --reference-max-memory (reported as "needs N GB");
  fast      — this project's default path: bf16 + channels_last where the hardware is fast at
              it, tiled (adain.inference.tiling) where the untiled run would not fit the default budget;
  fast, style reused — the fast path with the style statistics computed once beforehand, as
              `adain stylize` does for a batch of contents;
  --supersample N — the whole `stylize()` call (fast path, the style image encoded each time) at
              ×1 and at ×N (adain.inference.supersample: enlarge, stylise, reduce), in alternating
              rounds; the ratio is what "auto" supersampling costs where it applies (≤ 512 px).
Reported per size: the median of `--repeat` timed runs after one warm-up, megapixels/s, GFLOP/s
(FLOPs of one untiled stylisation counted once with torch.utils.flop_counter on the meta
device; a tiled run does more work than that for its halos, so its rate is the useful one)
against the CPU's peak (`machine_peak_gflops`), and with --memory the peak RSS of a fresh
process that ran only that path at that size.
"""

from __future__ import annotations

import copy
import json
import os
import re
import statistics
import subprocess
import sys
from argparse import Namespace

import torch

from adain.cli.timing import image_dims, median_seconds
from adain.core.errors import UserError
from adain.core.runtime import (autocast_context, lifetime_peak_memory, prepare_for_inference, process_memory,
                                resolve_device, resolve_dtype)
from adain.inference import tiling
from adain.nn.decoder import Decoder
from adain.nn.decoder import load_decoder
from adain.nn.encoders import get_spec
from adain.nn.model import STRIDE, AdaINModel
from adain.nn.pretrained import build_encoder


def run_train_bench(args: Namespace, device: torch.device, dtype: torch.dtype) -> int:
    """Training throughput (images/s): full steps (forward, backward, Adam) at --batch × size²."""
    from adain.train.config import TrainConfig
    from adain.train.objectives import train_step

    cfg = TrainConfig()
    encoder = build_encoder(args.encoder)
    generator = torch.Generator().manual_seed(0)
    if any(not isinstance(size, int) for size in args.size):
        raise UserError(f"--train --size {' '.join(map(str, args.size))}: expected square sizes (N) only")
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
                losses = train_step(model, model.decoder, *batch, cfg, autocast_context(device, step_dtype))
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizer.step()

            timings[name] = median_seconds(step, args.repeat, device)
        ref_rate, fast_rate = args.batch / timings["reference"], args.batch / timings["fast"]
        results.append({"mode": "train", "size": size, "batch": args.batch, "reference_images_per_s": ref_rate,
                        "fast_images_per_s": fast_rate, "speedup": fast_rate / ref_rate, "dtype": str(dtype),
                        "device": str(device), "threads": torch.get_num_threads(), "encoder": args.encoder})
        print(f"{size:>6} {ref_rate:>16.2f} {fast_rate:>11.2f} {fast_rate / ref_rate:>8.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


STYLE_SIDE = 512
# fp32 untiled peak RSS growth per pixel, as measured (adain.inference.tiling's figures + full-size buffers)
REFERENCE_BYTES_PER_PIXEL = tiling.TILE_BYTES_PER_PIXEL[torch.float32] + tiling.UNTILED_EXTRA_BYTES_PER_PIXEL


def machine_peak_gflops(threads: int) -> dict:
    """Theoretical peak of `threads` CPU cores from /proc/cpuinfo (clock × FLOP/cycle × cores).

    Assumed FLOP/cycle/core: AMX-BF16 1024 (bf16); AVX512-BF16 128 (VDPBF16PS, two 512-bit
    pipes); fp32 AVX-512 64 (two 512-bit FMA pipes × 16 lanes × 2); fp32 AVX2 32.  The clock is
    the model name's "@ x.xxGHz" or else the first "cpu MHz" (no turbo).
    """
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return {"clock_ghz": None, "cores": threads, "bf16": None, "fp32": None, "assumption": "no /proc/cpuinfo"}
    nominal = re.search(r"model name\s*:.*@\s*([\d.]+)GHz", info)
    current = re.search(r"cpu MHz\s*:\s*([\d.]+)", info)
    clock = float(nominal.group(1)) if nominal else float(current.group(1)) / 1000 if current else None
    flags = set(re.search(r"flags\s*:(.*)", info).group(1).split()) if "flags" in info else set()
    fp32 = 64 if "avx512f" in flags else 32 if "avx2" in flags else 8
    bf16 = 1024 if "amx_bf16" in flags else 128 if "avx512_bf16" in flags else fp32
    isa = "AMX-BF16" if bf16 == 1024 else "AVX512-BF16" if bf16 == 128 else "no bf16 hardware"
    return {"clock_ghz": clock, "cores": threads,
            "bf16": clock and clock * bf16 * threads, "fp32": clock and clock * fp32 * threads,
            "assumption": f"{isa}: {bf16} bf16 and {fp32} fp32 FLOP/cycle/core × {threads} cores × {clock} GHz"}


def count_gflop(model: AdaINModel, width: int, height: int) -> float:
    """GFLOP of one untiled stylisation (content + style encoding, decoding) at (W, H), counted
    on the meta device (shapes only, no memory, no time)."""
    from torch.utils.flop_counter import FlopCounterMode

    meta_model = copy.deepcopy(model).to("meta")
    content = torch.empty(1, 3, height, width, device="meta")
    style = torch.empty(1, 3, min(height, STYLE_SIDE), min(width, STYLE_SIDE), device="meta")
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        meta_model(content, [meta_model.style_stats(style)])
    return counter.get_total_flops() / 1e9


def reference_bytes(width: int, height: int) -> int:
    """What the untiled fp32 reference needs: the process as it is now plus its working memory."""
    padded = -(-height // STRIDE) * STRIDE * (-(-width // STRIDE) * STRIDE)
    return (process_memory() or 0) + tiling.TILE_FIXED_BYTES + padded * REFERENCE_BYTES_PER_PIXEL


def build_models(args: Namespace, device: torch.device, dtype: torch.dtype) -> tuple[AdaINModel, AdaINModel]:
    """(reference, fast): the same weights, fp32 NCHW eager vs `dtype` + channels_last (on the
    device they share their encoder; the fast one holds converted copies)."""
    if args.decoder:
        decoder, _ = load_decoder(args.decoder)
    else:
        torch.manual_seed(0)
        decoder = Decoder(get_spec(args.encoder).arch)
    encoder = build_encoder(args.encoder)
    reference = AdaINModel(copy.deepcopy(encoder), copy.deepcopy(decoder)).to(device).eval()
    reference.memory_format = torch.contiguous_format
    return reference, prepare_for_inference(AdaINModel(encoder, decoder), device, dtype)


def time_against(fast: AdaINModel, other: AdaINModel, width: int, height: int, repeat: int,
                 device: torch.device) -> tuple[float, float]:
    """(fast path s, --against s): both decoders' median latency on the fast path, measured in two
    rounds in alternating order (A B, B A) so that a machine getting busier or cooler mid-run
    favours neither; each figure is the mean of its two medians."""
    times: dict[str, list[float]] = {"decoder": [], "against": []}
    for order in (("decoder", "against"), ("against", "decoder")):
        for name in order:
            model = fast if name == "decoder" else other
            times[name].append(time_path(model, "fast", width, height, repeat, device)["seconds"])
    return statistics.fmean(times["decoder"]), statistics.fmean(times["against"])


def _against_model(args: Namespace, device: torch.device, dtype: torch.dtype) -> AdaINModel:
    decoder, metadata = load_decoder(args.against)
    encoder_name = metadata.get("encoder") or args.encoder
    return prepare_for_inference(AdaINModel(build_encoder(encoder_name), decoder), device, dtype)


def time_path(model: AdaINModel, path: str, width: int, height: int, repeat: int, device: torch.device) -> dict:
    """Median seconds of one stylisation on `path` ("reference": untiled; "fast": tiled when
    tiling.choose_tile says so, from uint8 content as `adain stylize` keeps it)."""
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator).numpy()
    style = torch.rand(1, 3, min(height, STYLE_SIDE), min(width, STYLE_SIDE), generator=generator).to(device)
    plan = None if path == "reference" else tiling.choose_tile(model, height, width)
    with torch.inference_mode():
        if plan is None:
            content = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float().div(255).to(device)

            def run(stats=None):
                model(content, [stats if stats is not None else model.style_stats(style)])
        else:
            image = tiling.TiledImage(pixels)

            def run(stats=None):
                style_stats = stats if stats is not None else model.style_stats(style)
                content_stats, features = tiling.content_statistics(model, image, plan.tile,
                                                                    keep_features=plan.keep_features,
                                                                    feature_dtype=plan.feature_dtype)
                tiling.stylize_tiled(model, image, [style_stats], content_stats, plan.tile, features=features)

        result = {"seconds": median_seconds(run, repeat, device), "tile": plan and plan.tile}
        if path == "fast":
            stats = model.style_stats(style)
            # the same shapes as the runs just timed: already warm
            result["style_reused_s"] = median_seconds(lambda: run(stats), repeat, device, warm_up=False)
    return result


def time_supersample(fast: AdaINModel, factor: int, width: int, height: int, repeat: int,
                     device: torch.device) -> tuple[float, float]:
    """(×1 s, ×`factor` s): median latency of `AdaINStylizer.stylize` on a (1, 3, height, width)
    seeded random content and a style of at most STYLE_SIDE², the content kept at its size, in two
    rounds of alternating order (×1 ×N, ×N ×1); each figure is the mean of its two medians."""
    from adain.methods.adain import AdaINStylizer

    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, height, width, generator=generator)
    style = torch.rand(1, 3, min(height, STYLE_SIDE), min(width, STYLE_SIDE), generator=generator)
    stylizer = AdaINStylizer(fast)
    times: dict[int, list[float]] = {1: [], factor: []}
    for order in ((1, factor), (factor, 1)):
        for n in order:
            def run(n=n):
                stylizer.stylize(content, style, content_size=0, style_size=0, supersample=n)
            times[n].append(median_seconds(run, repeat, device))
    return statistics.fmean(times[1]), statistics.fmean(times[factor])


def worker_main(argv: list[str]) -> None:
    """One path at one size in a fresh process (for its peak RSS): prints one JSON line."""
    job = json.loads(argv[0])
    args = Namespace(**job["args"])
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    reference, fast = build_models(args, device, resolve_dtype(args.precision, device))
    model = reference if job["path"] == "reference" else fast
    del reference, fast  # only `model` is kept, so the other's weights are not in the steady state
    result = time_path(model, job["path"], job["width"], job["height"], args.repeat, device)
    result["peak_rss"] = lifetime_peak_memory()
    print(json.dumps(result))


def _in_fresh_process(args: Namespace, path: str, width: int, height: int) -> dict:
    settings = {key: getattr(args, key) for key in ("decoder", "encoder", "device", "precision", "threads", "repeat")}
    job = json.dumps({"args": settings, "path": path, "width": width, "height": height})
    code = "import sys; from adain.cli.bench import worker_main; worker_main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, job], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if done.returncode != 0:
        raise RuntimeError(f"bench worker ({path}, {width}x{height}) failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _table_line(row: dict, memory: bool) -> str:
    def show(value, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    def mib(value) -> str:
        return "-" if value is None else f"{value / 2**20:.0f}M"

    fraction = row["fast_fraction_of_peak"]
    line = (f"{str(row['size']):>9} {show(row['reference_s'], '8.3f')} {row['fast_s']:>8.3f} "
            f"{show(row['speedup'], '7.2f')}x {row['fast_style_reused_s']:>8.3f} {show(row['fast_tile'], '5d')} "
            f"{row['fast_megapixels_per_s']:>9.2f} {row['fast_gflop_per_s']:>8.0f} "
            f"{show(fraction and 100 * fraction, '6.1f')}")
    if memory:
        line += f" {mib(row['reference_peak_rss_bytes']):>8} {mib(row['fast_peak_rss_bytes']):>8}"
    if row["reference_skipped"]:
        line += f"  (reference skipped: {row['reference_skipped']})"
    return line


def run_bench(args: Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.precision, device)
    if getattr(args, "supersample", 1) > 1 and (args.train or args.method != "adain"):
        raise UserError(f"--supersample {args.supersample}: times the adain method's stylize(); not with "
                        f"{'--train' if args.train else '--method ' + args.method}")
    if args.train:
        return run_train_bench(args, device, dtype)
    if args.method != "adain":
        from adain.cli import bench_baselines

        return getattr(bench_baselines, f"bench_{args.method}")(args, device, dtype)
    memory = getattr(args, "memory", False)
    reference_limit = getattr(args, "reference_max_memory", 6 << 30)
    reference, fast = build_models(args, device, dtype)
    # loaded before anything is timed: a wrong path fails at once, and every size reuses it
    against = _against_model(args, device, dtype) if getattr(args, "against", None) else None
    threads = torch.get_num_threads()
    peak = machine_peak_gflops(threads) if device.type == "cpu" else {"bf16": None, "fp32": None, "assumption": "GPU"}
    fast_peak = peak["bf16"] if dtype == torch.bfloat16 else peak["fp32"]

    results = []
    print(f"device {device}, fast path dtype {str(dtype).replace('torch.', '')} + channels_last, "
          f"{threads} threads, median of {args.repeat}; peak {peak['assumption']}")
    print(f"{'size':>9} {'ref s':>8} {'fast s':>8} {'speed-up':>8} {'reused s':>8} {'tile':>5} {'fast MP/s':>9} "
          f"{'GFLOP/s':>8} {'% peak':>6}" + (f" {'ref RSS':>8} {'fast RSS':>8}" if memory else ""))
    for size in args.size:
        width, height = image_dims(size)
        megapixels = width * height / 1e6
        gflop = count_gflop(reference, width, height)
        needed = reference_bytes(width, height)

        def run(path: str) -> dict:
            if memory:
                return _in_fresh_process(args, path, width, height)
            return time_path(reference if path == "reference" else fast, path, width, height, args.repeat, device)

        ref = run("reference") if needed <= reference_limit else None
        got = run("fast")
        ref_s, fast_s = (ref["seconds"] if ref else None), got["seconds"]
        row = {"size": size, "width": width, "height": height, "megapixels": megapixels,
               "reference_s": ref_s, "fast_s": fast_s, "speedup": ref_s / fast_s if ref else None,
               "fast_style_reused_s": got["style_reused_s"], "fast_tile": got["tile"],
               "reference_skipped": None if ref else f"needs {needed / 1e9:.1f} GB",
               "fast_megapixels_per_s": megapixels / fast_s,
               "reference_megapixels_per_s": megapixels / ref_s if ref else None,
               "gflop": gflop, "fast_gflop_per_s": gflop / fast_s,
               "reference_gflop_per_s": gflop / ref_s if ref else None,
               "peak_gflop_per_s": {"bf16": peak["bf16"], "fp32": peak["fp32"]},
               "peak_assumption": peak["assumption"],
               "fast_fraction_of_peak": gflop / fast_s / fast_peak if fast_peak else None,
               "reference_fraction_of_peak": gflop / ref_s / peak["fp32"] if ref and peak["fp32"] else None,
               "dtype": str(dtype), "device": str(device), "threads": threads, "encoder": args.encoder,
               # other processes on the machine slow both paths: the 1-minute load average says how busy it was
               "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
        if memory:
            row.update({"reference_peak_rss_bytes": ref["peak_rss"] if ref else None,
                        "fast_peak_rss_bytes": got["peak_rss"],
                        "memory_ratio": ref["peak_rss"] / got["peak_rss"] if ref else None})
        if against is not None:
            row["fast_s_same_round"], row["against_fast_s"] = time_against(fast, against, width, height,
                                                                           args.repeat, device)
            row["against"] = args.against
            row["against_ratio"] = row["fast_s_same_round"] / row["against_fast_s"]
        supersample = getattr(args, "supersample", 1)
        if supersample > 1:
            row["stylize_s"], row["stylize_supersampled_s"] = time_supersample(fast, supersample, width, height,
                                                                             args.repeat, device)
            row["supersample"] = supersample
            row["supersample_ratio"] = row["stylize_supersampled_s"] / row["stylize_s"]
        results.append(row)
        print(_table_line(row, memory))
        if "against_ratio" in row:
            print(f"{'':>9} fast path, alternating rounds: {row['fast_s_same_round']:.3f} s with --decoder, "
                  f"{row['against_fast_s']:.3f} s with --against {args.against}: {row['against_ratio']:.3f}×")
        if "supersample_ratio" in row:
            print(f"{'':>9} stylize(), alternating rounds: {row['stylize_s']:.3f} s at ×1, "
                  f"{row['stylize_supersampled_s']:.3f} s at ×{supersample}: {row['supersample_ratio']:.2f}×")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
