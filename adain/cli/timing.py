"""How the benchmarks time a call and name a size (shared by `adain bench` for every method)."""

from __future__ import annotations

import statistics
import time

import torch


def median_seconds(fn, repeat: int, device: torch.device, warm_up: bool = True) -> float:
    if warm_up:
        fn()  # allocations, oneDNN kernel selection
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


NAMED_SIZES = {"4k": (3840, 2160), "8k": (7680, 4320)}


def image_dims(size: int | str) -> tuple[int, int]:
    """A --size value → (width, height): 512 → (512, 512), '4k' → (3840, 2160), '640x480'."""
    if isinstance(size, int):
        return size, size
    if size in NAMED_SIZES:
        return NAMED_SIZES[size]
    width, height = size.split("x")
    return int(width), int(height)
