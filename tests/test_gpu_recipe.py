"""The GPU training kit (tools/gpu): the carry packer and slices of the default recipe, run here
on the CPU at toy sizes, so the first command on a lent GPU works as written."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.nn.pretrained import save_encoder_prefix
from adain.train.checkpoint import load_checkpoint
from adain.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "tools" / "gpu"
RECIPE = ROOT / "configs" / "train" / "default.yaml"
# The slices' time limit (chunk.sh stops training there and kills it a minute later): far beyond
# what their 2–3 steps on 64-px crops take on any CPU, so that their steps, not the clock, end them.
SLICE_MINUTES = "60"


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


def test_cropped_copy_keeps_the_scale_and_the_central_square(tmp_path):
    """--crop: what pack_carry.py uses since the pack outgrew the 64 MiB carry; the scale is that of
    --resize (a 900×600 image at 96 → 144×96), then the central 80² square is kept."""
    pack = _pack(tmp_path / "pack")
    ramp = np.tile(np.linspace(0, 255, 900, dtype=np.float32), (600, 1))  # brightness = x position
    Image.fromarray(np.stack([ramp] * 3, axis=-1).astype(np.uint8)).save(pack / "content/train/img00.png")
    proc = subprocess.run([sys.executable, str(ROOT / "data" / "prepare_local.py"), "--pack", str(pack),
                           "--resize", "96", "--crop", "80", "--format", "webp", "--quality", "85",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sizes = {f.stem: Image.open(f).size for f in (tmp_path / "out").rglob("*.webp")}
    assert len(sizes) == 8 and sizes["img00"] == (80, 80)
    assert sizes["img01"] == (80, 80)  # 120×100 stays at scale 1, then the 80² square
    cropped = np.asarray(Image.open(tmp_path / "out/content/train/img00.webp").convert("L"), dtype=np.float32)
    # 900×600 → 144×96, then columns 32…111: the ramp's values there, not a corner's (0…79)
    expected = np.linspace(0, 255, 144)[32:112]
    assert np.abs(cropped.mean(axis=0) - expected).max() < 6


def test_pack_carry_reports_a_missing_pack_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(KIT / "pack_carry.py"), "--pack", str(tmp_path / "none"),
                           "--out", str(tmp_path / "carry")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"pack_carry: error: data/prepare_local.py: error: "
                                   f"{tmp_path / 'none' / 'MANIFEST.csv'}: not found; expected the image pack "
                                   f"with its MANIFEST.csv")


def test_the_recipe_composes_with_what_the_machine_is_given(tmp_path):
    """chunk.sh trains configs/train/default.yaml with the carried data and encoder file: those
    overrides compose with every stage, and the encoder file is the one pack_carry.py writes."""
    from adain.train.stages import stage_configs

    script = (KIT / "chunk.sh").read_text()
    assert "recipe=${RECIPE:-configs/train/default.yaml}" in script
    carried = ["model.encoder_weights=.carry/vgg16-imagenet-relu4_1.safetensors", "data.content=.carry/data/content/train",
               "data.load_size=288", "data.workers=8", "compile=true"]
    assert all(item.replace(".carry", "$carry") in script for item in carried)
    stages = stage_configs(load_config(RECIPE, carried))
    assert [s.stage for s in stages] == ["reconstruct", "stylise", "skips", "distil"]
    for stage in stages:
        assert stage.model.encoder_weights == f".carry/{stage.model.encoder}-relu4_1.safetensors"  # what pack_carry writes
        assert stage.data.content == ".carry/data/content/train" and stage.compile
    assert [s.data.load_size for s in stages] == [288, 288, 288, 288]  # no stage sets its own


def _two_stages(first: int, second: int) -> str:
    """The recipe cut to two tiny stages with the real ones' names and kinds of override."""
    return (f"stages=[{{name: reconstruct, steps: {first}, overrides: [optim.content_weight=0, optim.style_weight=0, "
            f"optim.colour_weight=0]}}, {{name: stylise, steps: {second}, overrides: []}}]")


@pytest.mark.slow
def test_slices_run_the_recipe_and_a_bare_machine_continues_from_the_slim_checkpoint(tmp_path, adain_cache):
    """chunk.sh as the device would run it, on toy sizes: trains, stops, writes slim copies; a
    second slice on a 'bare machine' continues from the carried slim checkpoint of a finished stage
    (the next stage starts from it, the finished one is not re-run) and brings the decoder back."""
    pack = _pack(tmp_path / "pack")
    carry = tmp_path / "carry"
    save_encoder_prefix("vgg16-imagenet", "relu4_1", carry / "vgg16-imagenet-relu4_1.safetensors")
    overrides = [f"data.{key}={pack / folder}" for key, folder in
                 (("content", "content/train"), ("style", "style/train"),
                  ("val_content", "content/val"), ("val_style", "style/val"))]
    overrides += [f"model.encoder_weights={carry / 'vgg16-imagenet-relu4_1.safetensors'}", "device=cpu",
                  "precision=fp32", "compile=false", "data.workers=0", "data.load_size=96", "data.crop_size=64",
                  "optim.batch_size=2", "val_pairs=2", "val_size=64", "val_every=2", "wandb.mode=disabled",
                  "average_last=1"]

    def slice_(run_dir: Path, out: Path, stages: str, **env_extra: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHON": sys.executable, "RUN_DIR": str(run_dir), "CARRY": str(carry), "OUT": str(out),
               **env_extra}
        return subprocess.run(["bash", str(KIT / "chunk.sh"), SLICE_MINUTES, *overrides, stages], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    refused = slice_(tmp_path / "machine0", tmp_path / "out0", _two_stages(2, 1))  # nothing to continue, no FRESH=1
    assert refused.returncode == 2 and "set FRESH=1 to start one" in refused.stderr
    # the first slice: the first stage only (the recipe as it stood then)
    first = slice_(tmp_path / "machine1", tmp_path / "out1", "stages=[{name: reconstruct, steps: 2, overrides: []}]",
                   FRESH="1")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    out = tmp_path / "out1"
    assert {"latest-slim.pt", "best-slim.pt", "metrics.jsonl", "val_grid.png", "train.log"} <= {
        p.name for p in out.iterdir()}
    slim = load_checkpoint(out / "latest-slim.pt")
    assert (slim["step"], slim["config"]["stage"]) == (2, "reconstruct") and "optimizer" not in slim
    assert all(t.dtype == torch.float16 for t in slim["decoder"].values())

    (carry / "resume.pt").write_bytes((out / "latest-slim.pt").read_bytes())
    second = slice_(tmp_path / "machine2", tmp_path / "out2", _two_stages(2, 3))
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "continuing from" in second.stdout
    machine = tmp_path / "machine2"
    # the finished stage did not train again: its checkpoint is the carried file, untouched
    assert (machine / "1-reconstruct" / "checkpoints" / "latest.pt").read_bytes() == (carry / "resume.pt").read_bytes()
    returned = load_checkpoint(tmp_path / "out2" / "latest-slim.pt")
    assert (returned["step"], returned["config"]["stage"]) == (3, "stylise")
    assert {"decoder.safetensors", "decoder.json"} <= {p.name for p in (tmp_path / "out2").iterdir()}
    description = json.loads((tmp_path / "out2" / "decoder.json").read_text())
    assert [stage["name"] for stage in description["recipe"]["stages"]] == ["reconstruct", "stylise"]


@pytest.mark.slow
def test_sweep_runs_slices_side_by_side_and_packs_each_for_the_return(tmp_path, adain_cache):
    """sweep.sh: two loss balances as two chunk.sh runs at once; each comes back as NAME.tar and
    NAME-best.pt (the device returns at most 8 files), with its own overrides applied.  The recipe is
    default.yaml cut to one 2-step stage (sweep.sh splits its settings at commas: no list overrides)."""
    from omegaconf import OmegaConf

    recipe = OmegaConf.load(RECIPE)
    recipe.stages = [{"name": "stylise", "steps": 2, "overrides": []}]
    recipe.average_last = 1
    OmegaConf.save(recipe, tmp_path / "recipe.yaml")
    pack = _pack(tmp_path / "pack")
    carry = tmp_path / "carry"
    save_encoder_prefix("vgg16-imagenet", "relu4_1", carry / "vgg16-imagenet-relu4_1.safetensors")
    common = ",".join([f"data.{key}={pack / folder}" for key, folder in
                       (("content", "content/train"), ("style", "style/train"),
                        ("val_content", "content/val"), ("val_style", "style/val"))] +
                      [f"model.encoder_weights={carry / 'vgg16-imagenet-relu4_1.safetensors'}", "device=cpu",
                       "precision=fp32", "compile=false", "data.load_size=96", "data.crop_size=64",
                       "optim.batch_size=2", "val_pairs=2", "val_size=64", "val_every=2", "wandb.mode=disabled",
                       "log_every=1"])
    env = {**os.environ, "PYTHON": sys.executable, "CARRY": str(carry), "OUT": str(tmp_path / "out"), "FRESH": "1",
           "RUNS": str(tmp_path / "runs"), "RECIPE": str(tmp_path / "recipe.yaml")}
    proc = subprocess.run(["bash", str(KIT / "sweep.sh"), SLICE_MINUTES, f"low:{common},optim.style_weight=1",
                           f"high:{common},optim.style_weight=20"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["high-best.pt", "high.tar", "low-best.pt", "low.tar"]
    losses = {}
    for name in ("low", "high"):
        with tarfile.open(out / f"{name}.tar") as tar:
            assert {"./latest-slim.pt", "./metrics.jsonl", "./train.log", "./decoder.safetensors"} <= set(tar.getnames())
            tar.extractall(tmp_path / name, filter="data")
        assert load_checkpoint(tmp_path / name / "latest-slim.pt")["step"] == 2
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        losses[name] = next(r for r in rows if r.get("step") == 1 and "train/loss" in r)
    # step 1: same seed, same batch, same initial weights; only the style weight differs, so the
    # total loss says it was applied
    ratio = (losses["high"]["train/loss"] - losses["low"]["train/loss"]) / losses["low"]["train/loss_style"]
    assert abs(ratio - 19) < 0.5


def test_sweep_refuses_a_bad_run_name(tmp_path):
    proc = subprocess.run(["bash", str(KIT / "sweep.sh"), "1", "a b:steps=1"], cwd=tmp_path,
                          env={**os.environ, "OUT": str(tmp_path / "out")}, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "sweep: error: run name 'a b': expected letters, digits, _ or -"
