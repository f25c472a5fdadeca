"""The GPU training kit (experiments/gpu_decoder): the carry packer and one training slice, run
here on the CPU at toy sizes, so the first command on a lent GPU works as written."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from adain.checkpoint import load_checkpoint
from adain.config import load_config
from adain.weights import save_encoder_prefix

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "experiments" / "gpu_decoder"


def _pack(root: Path) -> Path:
    """A tiny image pack with a MANIFEST.csv, like ../shared/data: 2 images per set, one large."""
    rng = np.random.default_rng(0)
    rows = []
    for i, name in enumerate(("content/train", "content/val", "style/train", "style/val")):
        for j, size in enumerate(((900, 600), (120, 100))):
            path = root / name / f"img{i}{j}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            low = rng.uniform(0, 255, (size[1] // 10, size[0] // 10, 3)).astype(np.uint8)
            Image.fromarray(low).resize(size, Image.Resampling.BICUBIC).save(path)
            rows.append({"file": f"{name}/img{i}{j}.png"})
    with (root / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_downsized_copy_keeps_every_image_at_most_the_size(tmp_path):
    """data/prepare_local.py --format webp: how pack_carry.py makes the carried image pack."""
    pack = _pack(tmp_path / "pack")
    proc = subprocess.run([sys.executable, str(ROOT / "data" / "prepare_local.py"), "--pack", str(pack),
                           "--resize", "96", "--format", "webp", "--quality", "85", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    files = sorted((tmp_path / "out").rglob("*.webp"))
    assert len(files) == 8 and "content/train: 2 images" in proc.stdout
    sizes = [Image.open(f).size for f in files]
    assert all(min(s) <= 96 for s in sizes) and (144, 96) in sizes  # 900×600 → 144×96, aspect kept
    assert f"data.style={tmp_path / 'out' / 'style/train'}" in proc.stdout


def test_pack_carry_reports_a_missing_pack_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(KIT / "pack_carry.py"), "--pack", str(tmp_path / "none"),
                           "--out", str(tmp_path / "carry")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"pack_carry: error: data/prepare_local.py: error: "
                                   f"{tmp_path / 'none' / 'MANIFEST.csv'}: not found; expected the image pack "
                                   f"with its MANIFEST.csv")


def test_gpu_config_composes():
    cfg = load_config(ROOT / "configs" / "train" / "gpu.yaml")
    assert cfg.time_limit_min > 0 and cfg.model.encoder_weights.startswith(".carry/")
    assert cfg.model.encoder_weights == f".carry/{cfg.model.encoder}-relu4_1.safetensors"  # what pack_carry writes
    assert cfg.init_decoder is None or (ROOT / cfg.init_decoder).is_file()


def test_one_slice_runs_and_brings_back_slim_checkpoints(tmp_path, adain_cache):
    """chunk.sh as the device would run it, on toy sizes: trains, stops, writes slim copies, and a
    second slice on a 'bare machine' continues from the carried slim checkpoint."""
    pack = _pack(tmp_path / "pack")
    carry = tmp_path / "carry"
    save_encoder_prefix("vgg16-imagenet", "relu4_1", carry / "vgg16-imagenet-relu4_1.safetensors")
    overrides = [f"data.{key}={pack / folder}" for key, folder in
                 (("content", "content/train"), ("style", "style/train"),
                  ("val_content", "content/val"), ("val_style", "style/val"))]
    overrides += [f"model.encoder_weights={carry / 'vgg16-imagenet-relu4_1.safetensors'}", "device=cpu",
                  "precision=fp32", "compile=false", "data.workers=0", "data.load_size=96", "data.crop_size=64",
                  "optim.batch_size=2", "val_pairs=2", "val_size=64", "val_every=2", "wandb.mode=disabled"]

    def slice_(run_dir: Path, out: Path, steps: int, **env_extra: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHON": sys.executable, "RUN_DIR": str(run_dir), "CARRY": str(carry), "OUT": str(out),
               **env_extra}
        return subprocess.run(["bash", str(KIT / "chunk.sh"), "5", *overrides, f"steps={steps}"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)

    refused = slice_(tmp_path / "machine0", tmp_path / "out0", 2)  # nothing to continue, no FRESH=1
    assert refused.returncode == 2 and "set FRESH=1 to start one" in refused.stderr
    first = slice_(tmp_path / "machine1", tmp_path / "out1", 2, FRESH="1")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    out = tmp_path / "out1"
    assert {"latest-slim.pt", "best-slim.pt", "metrics.jsonl", "val_grid.png", "train.log"} <= {
        p.name for p in out.iterdir()}
    slim = load_checkpoint(out / "latest-slim.pt")
    assert slim["step"] == 2 and "optimizer" not in slim
    assert all(t.dtype == torch.float16 for t in slim["decoder"].values())

    (carry / "resume.pt").write_bytes((out / "latest-slim.pt").read_bytes())
    second = slice_(tmp_path / "machine2", tmp_path / "out2", 3)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "continuing from" in second.stdout
    assert load_checkpoint(tmp_path / "out2" / "latest-slim.pt")["step"] == 3
