"""Run a command; print its wall time and peak RSS (ru_maxrss of the waited-for child, Linux).

    python experiments/bench/peak_rss.py .venv/bin/python -m adain stylize ... --max-memory 1.4G
"""

import resource
import subprocess
import sys
import time

start = time.perf_counter()
status = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(f"exit {status}, wall {wall:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB ({peak_kib * 1024 / 1e9:.2f} GB)",
      file=sys.stderr)
sys.exit(status)
