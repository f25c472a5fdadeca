"""An evaluation killed mid-way (SIGKILL) resumes from its cache, and its final metrics equal an
uninterrupted run's.  A real eval.py subprocess on tiny generated images."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_killed_evaluation_resumes_from_its_cache_with_equal_metrics(tmp_path, decoder_file, hed_encoder):
    images = tmp_path / "images"
    for i in range(3):
        write_image(images / "content" / f"c{i}.png", 72, 64, seed=i)
    for i in range(2):
        write_image(images / "style" / f"s{i}.png", 64, 64, seed=10 + i)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    straight = subprocess.run(_eval(tmp_path / "straight", images, decoder_file), cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-2000:]

    # Killed while caching the third of six outputs: its PNG written, its record (which marks
    # the item complete) not; the run stops there and waits (tests/paused_eval.py).
    run_dir = tmp_path / "killed"
    read_end, write_end = os.pipe()
    log = tmp_path / "killed.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("paused_eval.py")), "3",
                                    str(write_end), *_eval(run_dir, images, decoder_file)[2:]], cwd=REPO_ROOT,
                                   env=env, pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=stderr)
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        reported = reports.readline()  # blocks until the run pauses, or exits (end of file)
    process.kill()
    process.wait()
    assert reported == "paused before the record of output 3\n", log.read_text()[-2000:]
    records = [path for path in run_dir.glob("cache/*/*.json") if path.name.count(".") == 1]
    assert len(list(run_dir.glob("cache/*/*.png"))) == 3 and len(records) == 2
    assert not (run_dir / "summary.json").exists()

    resumed = subprocess.run(_eval(run_dir, images, decoder_file), cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with (run_dir / "metrics.csv").open() as handle:
        cached = [row.get("cached") for row in csv.DictReader(handle)]
    assert cached.count("True") == 2  # the two complete items were not redone; the third was
    rows = _metrics(run_dir)
    assert len(rows) == 6 and {"rel_content", "rel_style", "ssim", "color_w1"} <= set(rows[0])
    assert rows == _metrics(tmp_path / "straight")
