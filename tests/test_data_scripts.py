"""The dataset preparation scripts under data/: offline failures, splits, the local pack."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT.parent / "shared" / "data"


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "data" / script), *args], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("script", ["prepare_coco.py", "prepare_wikiart.py"])
def test_download_fails_cleanly_offline(tmp_path, script):
    # Port 9 on loopback refuses connections: what an offline machine sees, without touching the network.
    proc = _run(script, "--root", str(tmp_path), "--url", "http://127.0.0.1:9/archive.zip", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot download http://127.0.0.1:9/archive.zip")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.zip"))


def test_split_is_seeded_and_disjoint(tmp_path):
    sys.path.insert(0, str(ROOT / "data"))
    try:
        from _common import write_split
    finally:
        sys.path.pop(0)
    files = [tmp_path / f"img_{i:03d}.jpg" for i in range(200)]
    train, val = write_split(tmp_path, files, "content")
    train_names, val_names = train.read_text().split(), val.read_text().split()
    assert len(val_names) == 25 and len(train_names) == 175
    assert not set(train_names) & set(val_names)
    write_split(tmp_path, list(reversed(files)), "again")
    assert (tmp_path / "again_val.txt").read_text().split() == val_names  # order of input does not matter


def test_prepare_local_reports_the_pack(tmp_path):
    if not (PACK / "MANIFEST.csv").is_file():
        pytest.skip("../shared/data is not present")
    proc = _run("prepare_local.py", "--pack", str(PACK), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The counts come from the manifest, so that the pack can grow without editing this test.
    with open(PACK / "MANIFEST.csv", newline="") as handle:
        counts = Counter(f"{row['kind']}/{row['split']}" for row in csv.DictReader(handle))
    assert set(counts) == {"content/train", "content/val", "style/train", "style/val"}
    for folder, count in counts.items():
        assert f"{folder}: {count} images" in proc.stdout
    assert f"data.content={PACK / 'content/train'}" in proc.stdout


def test_prepare_local_missing_pack(tmp_path):
    proc = _run("prepare_local.py", "--pack", str(tmp_path / "nothing"), cwd=tmp_path)
    assert proc.returncode == 2 and "MANIFEST.csv: not found" in proc.stderr
