"""Wall time and peak memory of one stylisation.

Peak memory: on CUDA, `torch.cuda.max_memory_allocated` above what was allocated before (peak
statistics reset first).  On the CPU, the process's resident-set high-water mark (VmHWM) above
the resident set before the call; Linux lets a process reset its own VmHWM by writing "5" to
/proc/self/clear_refs, so each call gets its own peak.  Where that is not possible the
lifetime high-water mark (getrusage ru_maxrss) is used, which only shows calls that raise it.
"""

from __future__ import annotations

import time

import torch

from adain.core.runtime import lifetime_peak_memory, process_memory, reset_peak_memory

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
            self._per_call = reset_peak_memory()
            self._start_bytes = process_memory("VmRSS") if self._per_call else None
            if self._start_bytes is None:
                self._per_call = False
                self._start_bytes = lifetime_peak_memory()
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
            end = process_memory("VmHWM") if self._per_call else lifetime_peak_memory()
            self.peak_mb = max(0, (end or 0) - self._start_bytes) / 2**20
