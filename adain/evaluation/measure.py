"""Wall time and peak memory of one stylisation.

Peak memory: on CUDA, `torch.cuda.max_memory_allocated` above what was allocated before (peak
statistics reset first).  On the CPU, the process's resident-set high-water mark (VmHWM) above
the resident set before the call; Linux lets a process reset its own VmHWM by writing "5" to
/proc/self/clear_refs, so each call gets its own peak.  Where that is not possible the
lifetime high-water mark (getrusage ru_maxrss) is used, which only shows calls that raise it.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import torch

STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Measure:
    """with Measure(device) as m: ...;  then m.ms and m.peak_mb (memory above the start)."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.ms = float("nan")
        self.peak_mb = float("nan")
        self.memory_kind = ""

    def __enter__(self) -> "Measure":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start_bytes = torch.cuda.memory_allocated(self.device)
            self.memory_kind = "cuda max_memory_allocated"
        else:
            self._per_call = _reset_rss_peak()
            self._start_kib = _status_kib("VmRSS") if self._per_call else None
            if self._start_kib is None:
                self._per_call = False
                self._start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.memory_kind = "rss high-water" if self._per_call else "rss lifetime high-water"
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.ms = (time.perf_counter() - self._start) * 1000.0
        if self.device.type == "cuda":
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._start_bytes) / 2**20
        else:
            end = _status_kib("VmHWM") if self._per_call else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak_mb = max(0, (end or 0) - self._start_kib) / 1024.0
