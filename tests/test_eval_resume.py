"""Issue 15: an evaluation killed mid-way (SIGKILL) resumes from its cache, and its final metrics
equal an uninterrupted run's.  A real eval.py subprocess on tiny generated images."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_ROOT, write_image

# columns that describe the run, not the result: time, memory, where it came from
VOLATILE = ("stylize_ms", "warm", "peak_mb", "cached", "output")


def _eval(run_dir: Path, images: Path, decoder: Path) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "eval.py"), f"content={images / 'content'}", f"style={images / 'style'}",
            "size=64", "grid_tile=32", "threads=1", f"run_dir={run_dir}", "wandb.mode=disabled",
            "metrics.standard=false", "metrics.reconstruction=false",
            "methods.0.name=adain", f"methods.0.settings={{decoder: {decoder}, device: cpu, precision: fp32}}"]


def _metrics(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return sorted(({k: v for k, v in row.items() if k not in VOLATILE and not k.endswith("_ms")} for row in rows),
                  key=lambda row: sorted(row.items()))


def test_killed_evaluation_resumes_from_its_cache_with_equal_metrics(tmp_path, decoder_file, hed_encoder):
    images = tmp_path / "images"
    for i in range(3):
        write_image(images / "content" / f"c{i}.png", 72, 64, seed=i)
    for i in range(2):
        write_image(images / "style" / f"s{i}.png", 64, 64, seed=10 + i)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    straight = subprocess.run(_eval(tmp_path / "straight", images, decoder_file), cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr[-2000:]

    run_dir = tmp_path / "killed"
    process = subprocess.Popen(_eval(run_dir, images, decoder_file), cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(run_dir.glob("cache/*/*.json")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first pair is done: kill at a seeded random moment after it
    time.sleep(random.Random(15).uniform(0.0, 1.0))
    assert process.poll() is None, "the evaluation finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list(run_dir.glob("cache/*/*.png")))
    assert 1 <= done_before < 6 and not (run_dir / "summary.json").exists()

    resumed = subprocess.run(_eval(run_dir, images, decoder_file), cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with (run_dir / "metrics.csv").open() as handle:
        cached = [row.get("cached") for row in csv.DictReader(handle)]
    assert cached.count("True") >= done_before  # what the killed run finished was not redone
    rows = _metrics(run_dir)
    assert len(rows) == 6 and {"rel_content", "rel_style", "ssim", "color_w1"} <= set(rows[0])
    assert rows == _metrics(tmp_path / "straight")
