"""Training the AdaIN decoder (Huang & Belongie 2017, §6.2): `run(cfg)`.

Per step, with a frozen encoder φ and the trainable decoder g:
    t = AdaIN(φ₄(c), φ₄(s))                      (B, 512, S/8, S/8)
    loss = w_c·‖φ₄(g(t)) − t‖² + λ·Σ_l ‖μ,σ(φ_l(g(t))) − μ,σ(φ_l(s))‖²
under bf16 autocast + channels_last where that is fast.  Single process, or DDP under torchrun
(gloo on CPU, NCCL on CUDA).  Everything a run produces lives in cfg.run_dir.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from adain import functional as AF
from adain.checkpoint import (find_resume, git_commit, load_checkpoint, rng_state, save_checkpoint,
                              set_rng_state, unwrap)
from adain.config import TrainConfig, to_dict
from adain.data import ImagePool, PairBatches, center_square, list_images
from adain.decoder import Decoder
from adain.encoders import CONTENT_TAP, STYLE_TAPS, build_encoder
from adain.errors import UserError
from adain.io import open_image, pil_to_tensor, resize_shorter
from adain.losses import content_loss, style_stats_loss
from adain.metrics import relative_content_loss, relative_style_loss
from adain.model import AdaINModel
from adain.runtime import resolve_device, resolve_dtype
from adain.tracking import Tracker
from adain.weights import load_decoder


def _distributed() -> tuple[int, int]:
    """(rank, world size), initialising the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class ValidationSet:
    """Fixed content × style pairs for the two scale-free numbers of design.md."""

    def __init__(self, content_source: str, style_source: str, pairs: int, size: int):
        contents, styles = list_images(content_source), list_images(style_source)
        chosen = [(contents[i % len(contents)], styles[(i * 7) % len(styles)]) for i in range(pairs)]
        self.content = torch.cat([pil_to_tensor(center_square(open_image(c), size)) for c, _ in chosen])
        self.style = [pil_to_tensor(resize_shorter(open_image(s), size)) for _, s in chosen]
        self.names = [f"{c.stem}|{s.stem}" for c, s in chosen]

    @torch.no_grad()
    def score(self, model: AdaINModel, autocast) -> tuple[dict[str, float], torch.Tensor]:
        """Mean relative content/style loss at α = 1, and the stylised images (N, 3, S, S)."""
        device = model.device
        outputs, content_scores, style_scores = [], [], []
        for i, style in enumerate(self.style):
            content = self.content[i: i + 1].to(device)
            style = style.to(device)
            with autocast:
                out = model(content, [model.style_stats(style)]).float().clamp(0, 1)
            content_scores.append(relative_content_loss(model.encoder, out, content))
            style_scores.append(relative_style_loss(model.encoder, out, style))
            outputs.append(out.cpu())
        scores = {"val/rel_content": torch.cat(content_scores).mean().item(),
                  "val/rel_style": torch.cat(style_scores).mean().item()}
        scores["val/score"] = scores["val/rel_content"] + scores["val/rel_style"]
        return scores, torch.cat(outputs)


def image_grid(rows: list[torch.Tensor], size: int = 128) -> torch.Tensor:
    """Rows of (N, 3, H, W) images → one (3, rows·size, N·size) grid, each image resized."""
    resized = [torch.nn.functional.interpolate(r.float().cpu(), size=(size, size), mode="bilinear",
                                               antialias=True, align_corners=False) for r in rows]
    lines = [torch.cat(list(r.clamp(0, 1)), dim=2) for r in resized]  # each (3, size, N·size)
    return torch.cat(lines, dim=1)


def train_step(model: AdaINModel, decoder, content: torch.Tensor, style: torch.Tensor,
               cfg: TrainConfig, autocast) -> dict[str, torch.Tensor]:
    """Losses of one batch; `decoder` is the (possibly DDP/compiled) module that gets gradients."""
    encoder = model.encoder
    with autocast:
        with torch.no_grad():
            content_feat = encoder(content, taps=(CONTENT_TAP,))[CONTENT_TAP]
            style_feats = encoder(style, taps=STYLE_TAPS)
            style_stats = {tap: AF.mean_std(f) for tap, f in style_feats.items()}
            target = AF.adain(content_feat, style_stats[CONTENT_TAP])  # (B, 512, S/8, S/8) fp32
        output = decoder(target.to(memory_format=model.memory_format))
        output_feats = encoder(output, taps=STYLE_TAPS)
        loss_c = content_loss(output_feats, target)
        loss_s = style_stats_loss(output_feats, style_stats)
    total = cfg.optim.content_weight * loss_c + cfg.optim.style_weight * loss_s
    return {"loss": total, "loss_content": loss_c.detach(), "loss_style": loss_s.detach()}


def run(cfg: TrainConfig) -> dict:
    """Train the decoder as configured; returns the final validation scores and paths."""
    rank, world = _distributed()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    dtype = resolve_dtype(cfg.precision, device)
    autocast = _autocast(device, dtype)
    run_dir = Path(cfg.run_dir)
    torch.manual_seed(cfg.seed)

    # --- data -----------------------------------------------------------------------------
    content_pool = ImagePool(list_images(cfg.data.content), cfg.data.load_size, cfg.data.cache_images, cfg.data.crop_size)
    style_pool = ImagePool(list_images(cfg.data.style), cfg.data.load_size, cfg.data.cache_images, cfg.data.crop_size)
    batches = PairBatches(content_pool, style_pool, cfg.optim.batch_size, cfg.data.crop_size, cfg.seed,
                          cfg.data.hflip, rank, world)
    validation = ValidationSet(cfg.data.val_content, cfg.data.val_style, cfg.val_pairs, cfg.val_size) \
        if rank == 0 and cfg.val_pairs > 0 else None

    # --- model ----------------------------------------------------------------------------
    encoder = build_encoder(cfg.model.encoder)
    if cfg.init_decoder:
        decoder, _ = load_decoder(cfg.init_decoder)
    else:
        decoder = Decoder(encoder.spec.arch, cfg.model.decoder_padding)
    model = AdaINModel(encoder, decoder).to(device, memory_format=torch.channels_last)
    model.decoder.train()
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=cfg.optim.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + cfg.optim.lr_decay * step))

    start_step, best_score = 0, math.inf
    resume_path = find_resume(run_dir, cfg.resume)
    if resume_path is not None:
        state = load_checkpoint(resume_path)
        model.decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        start_step, best_score = int(state["step"]), float(state.get("best_score", math.inf))

    trained = model.decoder
    if cfg.compile:
        try:
            trained = torch.compile(trained)
        except Exception as exc:  # no compiler toolchain: eager is correct, only slower
            print(f"torch.compile unavailable ({type(exc).__name__}); training eagerly", file=sys.stderr)
    if world > 1:
        trained = DistributedDataParallel(trained)

    config_dict = to_dict(cfg)
    tracker = Tracker(run_dir, config_dict, cfg.wandb.mode, cfg.wandb.project, cfg.wandb.entity,
                      cfg.wandb.name, cfg.wandb.tags, enabled=rank == 0)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        from omegaconf import OmegaConf

        OmegaConf.save(cfg, run_dir / "config.yaml")
        tracker.summary({"data/content_images": len(content_pool), "data/style_images": len(style_pool),
                         "data/skipped": len(content_pool.skipped) + len(style_pool.skipped)})

    def checkpoint_state(step: int) -> dict:
        return {"decoder": unwrap(trained).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "rng": rng_state(),
                "config": config_dict, "best_score": best_score, "commit": git_commit(),
                "encoder": cfg.model.encoder, "decoder_config": model.decoder.config()}

    def validate(step: int) -> dict:
        nonlocal best_score
        model.decoder.eval()
        scores, outputs = validation.score(model, autocast)
        model.decoder.train()
        shown = min(6, len(outputs))
        tracker.log_image("val/grid", image_grid([validation.content[:shown],
                                                   torch.cat([s[..., :outputs.shape[-2], :outputs.shape[-1]]
                                                              for s in validation.style[:shown]]),
                                                   outputs[:shown]]), step, "content | style | output")
        improved = scores["val/score"] < best_score
        best_score = min(best_score, scores["val/score"])
        tracker.log({**scores, "val/best_score": best_score}, step)
        return {**scores, "improved": improved}

    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=range(start_step, cfg.steps),
                                         num_workers=cfg.data.workers, pin_memory=device.type == "cuda",
                                         persistent_workers=cfg.data.workers > 0)
    from tqdm import tqdm

    progress = tqdm(total=cfg.steps, initial=start_step, disable=rank != 0, unit="step", file=sys.stderr,
                    dynamic_ncols=True)
    last = {"val/score": math.nan}
    window_start, window_images = time.perf_counter(), 0
    step = start_step
    for step_index, (content, style) in zip(range(start_step, cfg.steps), loader):
        step = step_index + 1
        content = content.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        style = style.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        losses = train_step(model, trained, content, style, cfg, autocast)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.decoder.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        window_images += content.shape[0] * world
        if rank != 0:
            continue
        if not torch.isfinite(losses["loss"]):
            raise UserError(f"training diverged at step {step} (loss {losses['loss'].item()}); lower optim.lr")
        progress.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            elapsed = time.perf_counter() - window_start
            scalars = {"train/loss": losses["loss"].item(), "train/loss_content": losses["loss_content"].item(),
                       "train/loss_style": losses["loss_style"].item(), "train/lr": scheduler.get_last_lr()[0],
                       "train/images_per_s": window_images / max(elapsed, 1e-9)}
            tracker.log(scalars, step)
            progress.set_postfix(content=f"{scalars['train/loss_content']:.3f}",
                                 style=f"{scalars['train/loss_style']:.3f}")
            window_start, window_images = time.perf_counter(), 0
        if cfg.image_every and step % cfg.image_every == 0:
            with torch.no_grad(), autocast:
                shown = min(4, content.shape[0])
                target = AF.adain(model.encode(content[:shown]), model.style_stats(style[:shown]))
                output = model.decode(target)
            tracker.log_image("train/grid", image_grid([content[:shown], style[:shown], output]), step,
                              "content | style | output")
        improved = False
        if validation is not None and cfg.val_every and (step % cfg.val_every == 0 or step == cfg.steps):
            last = validate(step)
            improved = last["improved"]
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or improved:
            save_checkpoint(run_dir, checkpoint_state(step), step, cfg.keep_checkpoints, cfg.checkpoint_every,
                            best=improved)
    progress.close()
    result = {"step": step, "run_dir": str(run_dir), "best_score": best_score,
              **{k: v for k, v in last.items() if k != "improved"}}
    tracker.summary(result)
    tracker.finish()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result
