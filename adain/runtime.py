"""Device and precision choices: the fast path by default, fp32 where it would not be fast."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from adain.errors import UserError

PRECISIONS = ("auto", "bf16", "fp32")


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AMX-BF16 or AVX512-BF16), where oneDNN's
    bf16 convolutions are 4–6× faster than fp32; elsewhere bf16 is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device: {name!r} requested but CUDA is not available; use --device cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"device: {name!r}; expected auto, cpu or cuda[:N]")
    return torch.device(name)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16 on CUDA with bf16 support and on CPUs with hardware bf16; fp32 otherwise."""
    if precision not in PRECISIONS:
        raise UserError(f"precision: {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


def prepare_for_inference(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Frozen, on device, weights in `dtype`, channels_last (NHWC: what oneDNN and cuDNN want)."""
    module.requires_grad_(False).eval()
    return module.to(device=device, dtype=dtype, memory_format=torch.channels_last)
