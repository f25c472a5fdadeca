"""Training: config composition, falling losses, exact resume, run-directory contents, DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.nn.decoder import Decoder
from adain.nn.decoder import load_decoder
from adain.train.checkpoint import load_checkpoint
from adain.train.config import TrainConfig, load_config
from adain.train.data import ImagePool, PairBatches, StreamPosition, list_images, to_unit_float

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "train" / "smoke.yaml"


def _write_images(folder: Path, count: int, seed: int, size=(96, 80)) -> Path:
    """Seeded smooth random images (blurred noise + gradients), like tiny photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        low = rng.uniform(0, 255, (size[1] // 8, size[0] // 8, 3)).astype(np.uint8)
        Image.fromarray(low).resize(size, Image.Resampling.BICUBIC).save(folder / f"img_{i}.png")
    return folder


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("train_data")
    return {
        "data.content": str(_write_images(root / "content", 4, seed=1)),
        "data.style": str(_write_images(root / "style", 3, seed=2)),
        "data.val_content": str(_write_images(root / "val_content", 2, seed=3)),
        "data.val_style": str(_write_images(root / "val_style", 2, seed=4)),
    }


def _config(run_dir: Path, folders: dict[str, str], *extra: str):
    overrides = [f"{k}={v}" for k, v in folders.items()] + [f"run_dir={run_dir}", "precision=fp32", *extra]
    return load_config(SMOKE, overrides)


def _train(cfg):
    from adain.train.loop import run

    return run(cfg)


def test_shipped_configs_compose():
    """Every config under configs/train composes, stages included, and reads nothing from runs/
    (a run directory is only written there): each runs on a fresh checkout."""
    from adain.train.stages import stage_configs

    paths = sorted((ROOT / "configs" / "train").glob("*.yaml"))
    assert {"default.yaml", "finetune.yaml", "johnson.yaml", "smoke.yaml"} <= {p.name for p in paths}
    for path in paths:
        cfg = load_config(path)
        for stage in stage_configs(cfg) if cfg.stages else [cfg]:
            assert stage.steps > 0 and stage.optim.batch_size > 0, path
        inputs = [cfg.init_decoder, cfg.resume, cfg.style, cfg.model.encoder_weights, cfg.data.content,
                  cfg.data.style, cfg.data.val_content, cfg.data.val_style]
        assert not [item for item in inputs if item and Path(item).parts[0] == "runs"], path
        assert cfg.init_decoder is None or (ROOT / cfg.init_decoder).is_file(), path


def test_finetune_has_the_recipes_last_losses_on_the_shipped_decoder():
    """configs/train/finetune.yaml: the losses of the default recipe's last stage without its
    distillation term, starting from the shipped decoder as it is — its palette head, skip
    projections and bilinear upsampling kept, no weight reset."""
    from adain.train.config import to_dict
    from adain.nn.pretrained import build_encoder
    from adain.methods.adain import SHIPPED_DECODER
    from adain.train.objectives import AdaINObjective
    from adain.train.stages import stage_configs

    last = stage_configs(load_config(ROOT / "configs" / "train" / "default.yaml"))[-1]
    (finetune,) = stage_configs(load_config(ROOT / "configs" / "train" / "finetune.yaml"))
    assert last.optim.distil_weight > 0 and finetune.optim.distil_weight == 0
    assert to_dict(finetune.optim) == {**to_dict(last.optim), "distil_weight": 0.0, "batch_size": 4}
    assert (finetune.data.load_size, finetune.data.crop_size) == (512, 256)
    assert finetune.model.encoder == last.model.encoder == "vgg16-imagenet"
    assert ROOT / finetune.init_decoder == SHIPPED_DECODER and 100 <= finetune.steps <= 1000
    network = AdaINObjective(finetune, build_encoder("vgg16-imagenet")).network
    shipped, _ = load_decoder(SHIPPED_DECODER)
    assert network.upsample == "bilinear" and network.palette_head is not None
    assert sorted(network.skip_taps) == sorted(last.model.decoder_skips)
    for (name, value), (shipped_name, shipped_value) in zip(network.state_dict().items(), shipped.state_dict().items()):
        assert name == shipped_name and torch.equal(value, shipped_value)


def test_config_typo_and_wrong_type_fail():
    with pytest.raises(UserError, match="optim.lrr|lrr"):
        load_config(SMOKE, ["optim.lrr=1e-3"])
    with pytest.raises(UserError, match="steps"):
        load_config(SMOKE, ["steps=many"])
    with pytest.raises(UserError, match="key=value"):
        load_config(SMOKE, ["steps"])
    with pytest.raises(UserError, match="not found"):
        load_config("configs/train/nope.yaml")


def test_config_override_order():
    cfg = load_config(SMOKE, ["optim.lr=0.5"])
    assert cfg.optim.lr == 0.5  # the command line beats the YAML
    assert cfg.steps == 4  # the YAML beats the dataclass default
    assert cfg.optim.style_weight == TrainConfig().optim.style_weight  # untouched default


def test_stream_is_a_shuffle_per_epoch():
    stream = StreamPosition(seed=3, n=5)
    first_epoch = [stream.index(k) for k in range(5)]
    second_epoch = [stream.index(k) for k in range(5, 10)]
    assert sorted(first_epoch) == list(range(5)) and sorted(second_epoch) == list(range(5))
    assert first_epoch != list(range(5)) or second_epoch != list(range(5))


def test_batches_are_deterministic_and_ranks_disjoint(image_folders):
    content = ImagePool(list_images(image_folders["data.content"]), 96, True, 64)
    style = ImagePool(list_images(image_folders["data.style"]), 96, True, 64)
    a = PairBatches(content, style, batch_size=2, crop_size=64, seed=0)
    b = PairBatches(content, style, batch_size=2, crop_size=64, seed=0)
    assert torch.equal(a[5][0], b[5][0]) and torch.equal(a[5][1], b[5][1])
    assert a[5][0].shape == (2, 3, 64, 64) and a[5][0].dtype == torch.uint8  # converted on the device
    unit = to_unit_float(a[5][0], torch.device("cpu"))
    assert unit.dtype == torch.float32 and unit.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(unit * 255, a[5][0].float())
    rank0 = PairBatches(content, style, 2, 64, seed=0, rank=0, world_size=2)
    rank1 = PairBatches(content, style, 2, 64, seed=0, rank=1, world_size=2)
    assert not torch.equal(rank0[0][0], rank1[0][0])


def test_corrupt_files_are_skipped_and_counted(tmp_path):
    folder = _write_images(tmp_path / "c", 2, seed=5)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipping"):
        pool = ImagePool(list_images(folder), 96, True, 64)
    assert len(pool) == 2 and len(pool.skipped) == 2


def test_manifest_lists_files(tmp_path, image_folders):
    files = list_images(image_folders["data.content"])
    manifest = tmp_path / "list.txt"
    manifest.write_text("\n".join(str(f) for f in files[:2]) + "\n")
    assert list_images(manifest) == files[:2]


def test_losses_fall(tmp_path, image_folders):
    cfg = _config(tmp_path / "run", image_folders, "steps=8", "optim.lr=1e-3", "log_every=1", "val_every=0",
                  "image_every=0")
    _train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 8
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2])


def test_validation_pairs_and_a_second_pairing(image_folders):
    from adain.train.loop import ValidationSet

    contents, styles = list_images(image_folders["data.val_content"]), list_images(image_folders["data.val_style"])
    first = ValidationSet(contents, styles, 2, 32)
    second = ValidationSet(contents, styles, 2, 32, style_offset=1)
    assert first.names == [f"{contents[0].stem}|{styles[0].stem}", f"{contents[1].stem}|{styles[1].stem}"]
    assert second.names == [f"{contents[0].stem}|{styles[1].stem}", f"{contents[1].stem}|{styles[0].stem}"]
    assert first.content.shape == (2, 3, 32, 32) and all(min(s.shape[-2:]) == 32 for s in first.style)


def test_relative_clamped_fine_tuning_and_a_bad_scale_is_refused(tmp_path, image_folders):
    """Phase 3 of the CPU schedule in miniature: the shipped decoder fine-tuned with scale-free
    losses on the clamped output.  The terms are fractions of their targets' energy (not the raw
    ~10² of the paper's losses) and the style term falls on these toy styles."""
    cfg = _config(tmp_path / "run", image_folders, "steps=6", "optim.lr=1e-4", "log_every=1", "val_every=0",
                  "image_every=0", "optim.loss_scale=relative", "optim.style_weight=3", "optim.clamp_output=true",
                  f"init_decoder={ROOT / 'adain' / 'weights' / 'decoder-vgg16-hed.safetensors'}")
    _train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    content = [r["train/loss_content"] for r in rows if "train/loss_content" in r]
    style = [r["train/loss_style"] for r in rows if "train/loss_style" in r]
    assert len(content) == len(style) == 6 and max(content) < 1.0
    assert np.mean(style[-2:]) < 0.7 * np.mean(style[:2])
    with pytest.raises(UserError, match="optim.loss_scale 'absolute'"):
        _train(_config(tmp_path / "bad", image_folders, "optim.loss_scale=absolute"))


def test_reconstruction_stage_learns_to_give_the_content_back(tmp_path, image_folders, monkeypatch):
    """Stage 1 of the ImageNet-encoder schedule in miniature: with content and style weights 0 only
    the identity term trains (relative relu1_1…relu4_1 features + pixel L1 of decode(encode(c)));
    it falls, and no style image is ever encoded."""
    from adain.train import objectives

    encoded_batches = []
    real_adain = objectives.AF.adain
    monkeypatch.setattr(objectives.AF, "adain", lambda *a, **k: encoded_batches.append(1) or real_adain(*a, **k))
    cfg = _config(tmp_path / "run", image_folders, "steps=8", "optim.lr=1e-3", "log_every=1", "val_every=0",
                  "image_every=0", "optim.loss_scale=relative", "optim.content_weight=0", "optim.style_weight=0",
                  "optim.identity_weight=1")
    _train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    feature = [r["train/loss_identity_feature"] for r in rows if "train/loss_identity_feature" in r]
    pixel = [r["train/loss_identity_pixel"] for r in rows if "train/loss_identity_pixel" in r]
    assert len(feature) == len(pixel) == 8
    assert np.mean(feature[-2:]) < 0.5 * np.mean(feature[:2])
    assert all(r["train/loss_style"] == 0 for r in rows if "train/loss_style" in r)
    assert not encoded_batches  # the style branch never ran
    with pytest.raises(UserError, match="all 0; nothing to train"):
        _train(_config(tmp_path / "none", image_folders, "optim.content_weight=0", "optim.style_weight=0"))


def test_identity_term_joins_the_style_losses(tmp_path, image_folders):
    from adain.train.config import load_config as load
    from adain.train.objectives import train_step
    from adain.nn.pretrained import build_encoder
    from adain.nn.model import AdaINModel
    import contextlib

    from adain.train.stages import stage_configs

    cfg = next(s for s in stage_configs(load(ROOT / "configs" / "train" / "default.yaml")) if s.stage == "stylise")
    assert (cfg.optim.identity_weight, cfg.optim.loss_scale) == (0.5, "relative")
    torch.manual_seed(0)
    model = AdaINModel(build_encoder("vgg16-hed"), Decoder("vgg16"))
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    with_identity = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    cfg.optim.identity_weight = 0.0
    without = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    identity = with_identity["loss_identity_feature"] + with_identity["loss_identity_pixel"]
    torch.testing.assert_close(with_identity["loss"], without["loss"] + 0.5 * identity)
    assert "loss_identity_feature" not in without
    cfg.optim.colour_weight = 0.0  # the recipe's stage has a colour term (50): off, then at 100
    no_colour = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    cfg.optim.colour_weight = 100.0
    with_colour = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert with_colour["loss_colour"] > 0
    torch.testing.assert_close(with_colour["loss"], no_colour["loss"] + 100.0 * with_colour["loss_colour"])
    cfg.optim.colour_std_weight = 0.0  # the means alone: the spread's share drops out of the total
    means_only = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert 0 < means_only["loss_colour"] < with_colour["loss_colour"]
    torch.testing.assert_close(means_only["loss"], no_colour["loss"] + 100.0 * means_only["loss_colour"])


def test_a_lightness_content_term_takes_no_colour_from_the_photo():
    """optim.content_luma: the content term is φ₄ of the grey output against AdaIN of the grey photo
    with the grey style's statistics — the same for two photos of one lightness in other colours,
    where the colour target differs."""
    from adain.nn import functional as AF
    from adain.nn.losses.training import relative_content_loss
    from adain.nn.pretrained import build_encoder
    from adain.train.objectives import content_term, to_grey

    torch.manual_seed(0)
    encoder = build_encoder("vgg16-hed")
    content, style, output = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    grey = to_grey(content)
    recoloured = grey + 0.02 * torch.tensor([1.0, -0.3, -1.0]).view(1, 3, 1, 1)  # 0.299 − 0.176 − 0.114 ≈ 0
    recoloured = recoloured - (to_grey(recoloured) - grey)  # lightness exactly kept
    torch.testing.assert_close(to_grey(recoloured), grey, rtol=0, atol=1e-6)
    assert (recoloured - content).abs().max() > 0.01
    taps = ("relu4_1",)
    feats = encoder(output, taps=taps)
    cfg = load_config(None, ["optim.loss_scale=relative", "optim.content_luma=true"])
    style_stats = AF.mean_std(encoder(style, taps=taps)["relu4_1"])
    colour_target = {name: AF.adain(encoder(c, taps=taps)["relu4_1"], style_stats) for name, c in
                     (("photo", content), ("recoloured", recoloured))}
    luma = {name: content_term(encoder, output, feats, colour_target[name], c, style, cfg.optim)
            for name, c in (("photo", content), ("recoloured", recoloured))}
    torch.testing.assert_close(luma["photo"], luma["recoloured"], rtol=1e-4, atol=0)
    expected = relative_content_loss(encoder(to_grey(output), taps=taps),
                                     AF.adain(encoder(grey, taps=taps)["relu4_1"],
                                              AF.mean_std(encoder(to_grey(style), taps=taps)["relu4_1"])))
    torch.testing.assert_close(luma["photo"], expected)
    cfg.optim.content_luma = False  # the colour target: it tells the two photos apart
    plain = {name: content_term(encoder, output, feats, colour_target[name], c, style, cfg.optim)
             for name, c in (("photo", content), ("recoloured", recoloured))}
    assert not torch.isclose(plain["photo"], plain["recoloured"], rtol=1e-3)


@pytest.mark.slow
def test_resume_is_bit_exact(tmp_path, image_folders):
    straight = _config(tmp_path / "straight", image_folders, "steps=4")
    _train(straight)
    first_half = _config(tmp_path / "halves", image_folders, "steps=2")
    _train(first_half)
    second_half = _config(tmp_path / "halves", image_folders, "steps=4", "resume=auto")
    _train(second_half)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "halves" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 4
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"]


def _straight_and_resumed_without_warm_start(tmp_path: Path, image_folders: dict[str, str], warm_file: Path,
                                            *overrides: str) -> tuple[dict, dict]:
    """The final checkpoints (step 4) of a run warm-started from a fresh decoder saved at
    `warm_file`: straight, and in two halves whose second resumes after `warm_file` is deleted (a
    fresh machine with only the checkpoint)."""
    from adain.nn.decoder import save_decoder

    torch.manual_seed(0)
    save_decoder(Decoder("vgg16"), warm_file, {"encoder": "vgg16-hed"})
    warm = [f"init_decoder={warm_file}", *overrides]
    _train(_config(tmp_path / "straight", image_folders, "steps=4", *warm))
    _train(_config(tmp_path / "halves", image_folders, "steps=2", *warm))
    warm_file.unlink()
    _train(_config(tmp_path / "halves", image_folders, "steps=4", "resume=auto", *warm))
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "halves" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 4
    return a, b


@pytest.mark.slow
def test_a_warm_started_palette_run_resumes_without_its_warm_start_file(tmp_path, image_folders):
    """A run resumed on a fresh machine has its checkpoint but not the decoder it started from: the
    network is shaped by the checkpoint (here: bilinear, palette head added at the start), and the
    resumed run equals the straight one bit for bit."""
    warm_file = tmp_path / "warm.safetensors"
    a, b = _straight_and_resumed_without_warm_start(tmp_path, image_folders, warm_file, "model.decoder_palette=true",
                                                    "model.decoder_upsample=bilinear")
    assert b["decoder_config"] == {**a["decoder_config"], "palette": True, "upsample": "bilinear"}
    assert any(key.startswith("palette_head.") for key in b["decoder"])
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key
    recorded = (tmp_path / "halves" / "config.yaml").read_text()
    assert str(warm_file) in recorded  # the run's config still names the warm start it had


def test_time_limit_stops_with_a_checkpoint_and_resumes(tmp_path, image_folders, capsys):
    run_dir = tmp_path / "run"
    result = _train(_config(run_dir, image_folders, "steps=50", "time_limit_min=1e-9", "checkpoint_every=0"))
    assert result["step"] == 1 and np.isfinite(result["val/rel_style"])  # stopped after one step, validated
    assert "time limit of 1e-09 min reached: stopped at step 1 with a checkpoint" in capsys.readouterr().err
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == 1
    result = _train(_config(run_dir, image_folders, "steps=3", "resume=auto"))
    assert result["step"] == 3


def test_slim_checkpoint_is_small_and_resumes(tmp_path, image_folders, capsys):
    from adain.train.checkpoint import write_slim_checkpoint

    run_dir = tmp_path / "run"
    _train(_config(run_dir, image_folders, "steps=2"))
    full = run_dir / "checkpoints" / "latest.pt"
    slim = write_slim_checkpoint(full, tmp_path / "slim.pt")
    assert slim.stat().st_size < full.stat().st_size / 4
    state = load_checkpoint(slim)
    assert "optimizer" not in state and state["step"] == 2
    assert all(t.dtype == torch.float16 for t in state["decoder"].values())
    result = _train(_config(tmp_path / "continued", image_folders, "steps=4", f"resume={slim}"))
    assert result["step"] == 4
    assert "no optimiser state" in capsys.readouterr().err
    decoder, _ = load_decoder(slim)  # a slim checkpoint still stylises
    assert next(iter(decoder.parameters())).dtype == torch.float32


def test_slim_resume_continues_at_the_scheduled_learning_rate(tmp_path, image_folders):
    from adain.train.checkpoint import write_slim_checkpoint
    from adain.nn.decoder import Decoder
    from adain.train.loop import restore

    run_dir = tmp_path / "run"
    _train(_config(run_dir, image_folders, "steps=2", "optim.lr=1e-3", "optim.lr_decay=1.0"))
    slim = load_checkpoint(write_slim_checkpoint(run_dir / "checkpoints" / "latest.pt", tmp_path / "slim.pt"))

    class Objective:
        name, network_key, network = "adain", "decoder", Decoder("vgg16")

    optimizer = torch.optim.Adam(Objective.network.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + step))
    step, _ = restore(slim, "slim.pt", Objective, optimizer, scheduler, announce=False)
    assert step == 2
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 / 3)  # lr / (1 + decay · step), not 1e-3
    assert not optimizer.state  # moments start afresh
    assert torch.equal(Objective.network.state_dict()["convs.dec4_1.weight"],
                       slim["decoder"]["convs.dec4_1.weight"].float())


def test_run_directory_contents(tmp_path, image_folders):
    run_dir = tmp_path / "run"
    result = _train(_config(run_dir, image_folders, "wandb.mode=offline"))
    assert (run_dir / "config.yaml").is_file()
    assert load_config(run_dir / "config.yaml").steps == 4  # the saved config loads back
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert {"latest.pt", "best.pt", "step_0000002.pt", "step_0000004.pt"} <= set(checkpoints)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("val/rel_content" in r for r in rows) and any("train/images_per_s" in r for r in rows)
    assert sorted((run_dir / "samples").glob("val/grid_*.png")) or sorted((run_dir / "samples").rglob("*.png"))
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb")), "no W&B offline run file"
    assert np.isfinite(result["val/rel_content"]) and np.isfinite(result["val/rel_style"])
    state = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    assert state["config"]["steps"] == 4 and "torch" in state["rng"]
    decoder, metadata = load_decoder(run_dir / "checkpoints" / "latest.pt")  # checkpoints stylise directly
    assert decoder.arch == "vgg16" and metadata["encoder"] == "vgg16-hed"


def test_export_writes_metadata(tmp_path, image_folders):
    from adain.train.export import export_decoder

    run_dir = tmp_path / "run"
    _train(_config(run_dir, image_folders))
    out = export_decoder(run_dir / "checkpoints" / "best.pt", tmp_path / "decoder.safetensors", extra={"hardware": "test"})
    decoder, metadata = load_decoder(out)
    description = json.loads(out.with_suffix(".json").read_text())
    assert metadata["encoder"] == description["encoder"] == "vgg16-hed"
    assert metadata["hardware"] == "test" and metadata["training_config"]["data"]["crop_size"] == 64
    assert next(iter(decoder.parameters())).dtype == torch.float32  # loaded for use in fp32


@pytest.mark.slow
def test_export_averages_checkpoints(tmp_path, image_folders):
    from adain.train.export import export_decoder

    run_dir = tmp_path / "run"
    _train(_config(run_dir, image_folders, "steps=4", "checkpoint_every=2", "optim.lr=1e-3"))
    first, second = run_dir / "checkpoints" / "step_0000002.pt", run_dir / "checkpoints" / "step_0000004.pt"
    out = export_decoder(second, tmp_path / "mean.safetensors", dtype="float32", average_with=[first])
    mean, metadata = load_decoder(out)
    a, b = load_decoder(first)[0].state_dict(), load_decoder(second)[0].state_dict()
    for name, value in mean.state_dict().items():
        torch.testing.assert_close(value, (a[name] + b[name]) / 2)
    assert not torch.equal(a["convs.dec1_1.weight"], b["convs.dec1_1.weight"])  # the mean is not a copy
    assert metadata["steps"] == 4 and metadata["averaged_with_steps"] == [2]
    assert "run_best_val_score" in metadata and "val_score" not in metadata  # the run's score, not the mean's

    other_arch = tmp_path / "vgg19.pt"
    torch.save({"decoder": Decoder("vgg19").state_dict(), "config": {}, "step": 1}, other_arch)
    proc = subprocess.run([sys.executable, "-m", "adain", "export", str(second), str(tmp_path / "bad.safetensors"),
                           "--average-with", str(other_arch)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "vgg19.pt" in proc.stderr and "expected checkpoints of the same network" in proc.stderr
    assert not (tmp_path / "bad.safetensors").exists()


def test_train_cli_reports_bad_config(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", str(SMOKE), "optim.nope=1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("train.py: error:") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ddp_two_processes_gloo(tmp_path, image_folders):
    """torchrun with 2 CPU processes: ranks train in lock-step and rank 0 writes the run."""
    overrides = [f"{k}={v}" for k, v in image_folders.items()] + [f"run_dir={tmp_path / 'ddp'}", "precision=fp32", "steps=2",
                                                                  "time_limit_min=60"]  # ranks agree each step
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port: other test sessions may run this test at the same time
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # A hang guard only (a rank stuck in the rendezvous would wait for ever): the run takes minutes on a busy CPU.
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
                           str(ROOT / "train.py"), "--config", str(SMOKE), *overrides],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "latest.pt")
    assert state["step"] == 2
    assert all(not k.startswith("module.") for k in state["decoder"])  # unwrapped before saving


def test_decoder_upsample_is_set_on_a_new_or_warm_started_decoder(tmp_path):
    """model.decoder_upsample: a fresh decoder gets it; a warm start keeps its file's mode unless
    it is set (a nearest decoder can be fine-tuned as a bilinear one)."""
    from adain.train.config import load_config as load
    from adain.nn.pretrained import build_encoder
    from adain.train.objectives import AdaINObjective
    from adain.nn.decoder import save_decoder

    encoder = build_encoder("vgg16-hed")
    save_decoder(Decoder("vgg16"), tmp_path / "nearest.safetensors", {"encoder": "vgg16-hed"})
    warm = f"init_decoder={tmp_path / 'nearest.safetensors'}"
    assert AdaINObjective(load(None, [warm]), encoder).network.upsample == "nearest"
    assert AdaINObjective(load(None, [warm, "model.decoder_upsample=bilinear"]), encoder).network.upsample == "bilinear"
    assert AdaINObjective(load(None, ["model.decoder_upsample=bilinear"]), encoder).network.upsample == "bilinear"
    with pytest.raises(UserError, match="model.decoder_upsample 'cubic': expected one of nearest, bilinear"):
        AdaINObjective(load(None, ["model.decoder_upsample=cubic"]), encoder)


def test_distillation_target_is_the_supersampled_stylisation(tmp_path):
    """The distillation term's target T is what `stylize(..., supersample=2)` gives for the same
    content and style (one arithmetic in training and inference): scored against that output the
    term is zero, against the ×1 output it is not; the term joins the loss with its weight."""
    import contextlib

    import adain
    from adain.nn.decoder import save_decoder
    from adain.train.objectives import distillation_loss, train_step

    torch.manual_seed(0)
    decoder = Decoder("vgg16", palette=True, skips=("relu3_1", "relu2_1", "relu1_1"))
    path = tmp_path / "teacher.safetensors"
    save_decoder(decoder, path, {"encoder": "vgg16-hed"})
    stylizer = adain.load(decoder=path, precision="fp32", device="cpu")
    model = stylizer.model
    content, style = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    styles = [model.style_stats(style)]
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    with torch.no_grad():
        supersampled = stylizer.stylize(content, style, content_size=0, style_size=0, supersample=2)
        plain = stylizer.stylize(content, style, content_size=0, style_size=0, supersample=1)
        to_zero = distillation_loss(supersampled, model.encoder(supersampled, taps=taps), model, content, styles, 2)
        to_plain = distillation_loss(plain, model.encoder(plain, taps=taps), model, content, styles, 2)
        # the pixel term alone, weighed: features only (0) and twice the pixel term (2)
        features_only = distillation_loss(plain, model.encoder(plain, taps=taps), model, content, styles, 2, 0.0)
        doubled = distillation_loss(plain, model.encoder(plain, taps=taps), model, content, styles, 2, 2.0)
    assert to_zero < 1e-4 < to_plain
    assert 0 < features_only < to_plain
    torch.testing.assert_close(doubled - to_plain, to_plain - features_only)
    cfg = _config(tmp_path / "run", {}, "optim.distil_weight=2.0", f"optim.distil_teacher={path}")
    with_term = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext(), teacher=model)
    cfg.optim.distil_weight = 0.0
    without = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert with_term["loss_distil"] > 0 and "loss_distil" not in without
    torch.testing.assert_close(with_term["loss"], without["loss"] + 2.0 * with_term["loss_distil"])
    # optim.distil_pixel_weight reaches the term: 0 leaves the feature distance alone
    cfg.optim.distil_weight, cfg.optim.distil_pixel_weight = 2.0, 0.0
    features_step = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext(), teacher=model)
    assert 0 < features_step["loss_distil"] < with_term["loss_distil"]


def test_distillation_needs_a_matching_teacher(tmp_path, image_folders):
    from adain.nn.decoder import save_decoder
    from adain.nn.pretrained import build_encoder
    from adain.train.objectives import build_objective

    encoder = build_encoder("vgg16-hed")
    with pytest.raises(UserError, match="needs a teacher"):
        build_objective(_config(tmp_path / "a", image_folders, "optim.distil_weight=1"), encoder)
    plain = tmp_path / "plain.safetensors"
    save_decoder(Decoder("vgg16"), plain, {"encoder": "vgg16-hed"})
    with pytest.raises(UserError, match="skip inputs"):
        build_objective(_config(tmp_path / "b", image_folders, "optim.distil_weight=1", f"optim.distil_teacher={plain}",
                                "model.decoder_skips=[relu1_1]"), encoder)
    other = tmp_path / "other.safetensors"
    save_decoder(Decoder("vgg16"), other, {"encoder": "vgg16-imagenet"})
    with pytest.raises(UserError, match="trained behind the vgg16-imagenet encoder, not this run's vgg16-hed"):
        build_objective(_config(tmp_path / "d", image_folders, "optim.distil_weight=1", f"optim.distil_teacher={other}"),
                        encoder)
    with pytest.raises(UserError, match="distil_factor 5"):
        build_objective(_config(tmp_path / "c", image_folders, "optim.distil_weight=1", f"optim.distil_teacher={plain}",
                                "optim.distil_factor=5"), encoder)
    with pytest.raises(UserError, match=r"distil_pixel_weight -1.0: expected ≥ 0"):
        build_objective(_config(tmp_path / "e", image_folders, "optim.distil_weight=1", f"optim.distil_teacher={plain}",
                                "optim.distil_pixel_weight=-1"), encoder)


def test_a_checkpoint_s_stored_teacher_is_the_one_a_resumed_run_distils_from(tmp_path):
    """A distilling run's checkpoint holds its teacher: loading the teacher from that checkpoint
    gives the stored teacher (not the checkpoint's student decoder), rounded to fp16 like a teacher
    read from a decoder file."""
    from adain.nn.decoder import save_decoder
    from adain.train.objectives import DISTIL_TEACHER_KEY, load_distil_teacher

    torch.manual_seed(0)
    teacher, student = Decoder("vgg16"), Decoder("vgg16")
    path = tmp_path / "teacher.safetensors"
    save_decoder(teacher, path, {"encoder": "vgg16-hed"})
    from_file, encoder = load_distil_teacher(str(path))
    assert encoder == "vgg16-hed"
    checkpoint = tmp_path / "latest.pt"
    torch.save({"decoder": student.state_dict(), "decoder_config": student.config(),
                DISTIL_TEACHER_KEY: {"decoder": {k: v.half() for k, v in teacher.state_dict().items()},
                                     "decoder_config": teacher.config()}}, checkpoint)
    from_checkpoint, encoder = load_distil_teacher(str(checkpoint))
    assert encoder is None  # checked when the run started
    for key, value in from_file.state_dict().items():
        assert torch.equal(from_checkpoint.state_dict()[key], value), key
        assert torch.equal(value, teacher.state_dict()[key].half().float()), key
    assert any(not torch.equal(value, student.state_dict()[key].half().float())  # two different decoders
               for key, value in from_checkpoint.state_dict().items())
    assert not any(p.requires_grad for p in from_checkpoint.parameters())
    torch.save({"decoder": student.state_dict(), "decoder_config": student.config()}, checkpoint)
    for key, value in load_distil_teacher(str(checkpoint))[0].state_dict().items():  # no stored teacher: the file's decoder
        assert torch.equal(value, student.state_dict()[key].half().float()), key


@pytest.mark.slow
def test_a_distillation_run_resumes_with_its_teacher_without_the_teacher_file(tmp_path, image_folders):
    """The teacher of a distilling run is its warm start; the run is resumed on a machine without
    that file, from its checkpoint: the teacher comes from the checkpoint, so the resumed run equals
    the straight one bit for bit (a teacher taken from the resumed student would not)."""
    a, b = _straight_and_resumed_without_warm_start(tmp_path, image_folders, tmp_path / "start.safetensors",
                                                    "optim.distil_weight=1", "model.encoder=vgg16-hed")
    assert "distil_teacher" in b
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key


@pytest.mark.slow
def test_a_distillation_run_trains_and_logs_its_term(tmp_path, image_folders):
    """Two steps of a fine-tune whose teacher is its own starting decoder: the loop runs and logs
    the term."""
    import json

    from adain.nn.decoder import save_decoder

    start = tmp_path / "start.safetensors"
    torch.manual_seed(0)
    save_decoder(Decoder("vgg16"), start, {"encoder": "vgg16-hed"})
    cfg = _config(tmp_path / "run", image_folders, f"init_decoder={start}", "optim.distil_weight=1", "steps=2",
                  "model.encoder=vgg16-hed")
    _train(cfg)
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(row.get("train/loss_distil", 0) > 0 for row in logged), logged[:2]
