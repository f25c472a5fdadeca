"""Device and precision choices: the fast path by default, fp32 where it would not be fast."""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import torch

from adain.core.errors import UserError

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


def autocast_context(device: torch.device, dtype: torch.dtype):
    """Mixed precision in `dtype` on `device` (bf16 on CPUs with it, fp16/bf16 on GPUs); a no-op for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def prepare_for_inference(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Frozen, on device, weights in `dtype`, channels_last (NHWC: what oneDNN and cuDNN want)."""
    module.requires_grad_(False).eval()
    return module.to(device=device, dtype=dtype, memory_format=torch.channels_last)


def compile_with_fallback(module: torch.nn.Module, name: str) -> torch.nn.Module:
    """torch.compile `module`'s forward in place; where compiling is impossible (no compiler
    toolchain, an unsupported op) the first call says so on one line and the module runs eagerly.

    Compilation is lazy, so failures surface at the first call, not here.  A UserError raised by
    the forward itself (bad input) is not a compile failure and passes through.
    """
    eager_forward = module.forward
    try:
        compiled_forward = torch.compile(eager_forward, dynamic=True)
    except Exception as exc:  # torch without dynamo support on this platform
        print(f"adain: torch.compile unavailable for the {name} ({type(exc).__name__}); running eagerly",
              file=sys.stderr)
        return module
    current = {"forward": compiled_forward}

    def forward(*args, **kwargs):
        try:
            return current["forward"](*args, **kwargs)
        except UserError:
            raise
        except Exception as exc:
            if current["forward"] is eager_forward:
                raise
            print(f"adain: torch.compile failed for the {name} ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0] if str(exc) else ''}); running eagerly", file=sys.stderr)
            current["forward"] = eager_forward
            return eager_forward(*args, **kwargs)

    module.forward = forward
    return module


# --- process memory (Linux /proc; elsewhere the functions say "unknown") ----------------------

def process_memory(field: str = "VmRSS") -> int | None:
    """A memory field of /proc/self/status in bytes: VmRSS (resident now), VmHWM (resident
    high-water mark); None where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak_memory() -> bool:
    """Reset this process's VmHWM to its current resident set (Linux ≥ 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def lifetime_peak_memory() -> int:
    """The most memory this process has ever held resident, in bytes (getrusage; never reset)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
