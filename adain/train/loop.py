"""The training loop shared by every trainable method: `run(cfg)`.

Data, optimiser, LR schedule, checkpoints, exact resume, tracking (W&B + metrics.jsonl),
validation and DDP live here; what is trained and how a batch's losses are computed is the
method's objective (`adain.train.objectives`, chosen by cfg.method):

    adain    the decoder of Huang & Belongie (2017, §6.2), content × style batches;
    johnson  a per-style transformation network of Johnson et al. (2016), content batches.

Runs under bf16 autocast + channels_last where that is fast.  Single process, or DDP under
torchrun (gloo on CPU, NCCL on CUDA).  Everything a run produces lives in cfg.run_dir.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from adain.core.errors import UserError
from adain.core.io import open_image, pil_to_tensor, resize_shorter
from adain.core.runtime import autocast_context, resolve_device, resolve_dtype
from adain.nn.losses.distances import measure_relative_content, measure_relative_style
from adain.nn.pretrained import build_encoder
from adain.train.checkpoint import (CHECKPOINT_DIR, find_resume, git_commit, load_checkpoint, rng_state,
                                    save_checkpoint, set_rng_state, unwrap)
from adain.train.config import TrainConfig, to_dict
from adain.train.data import ImagePool, PairBatches, center_square, list_images, to_unit_float
from adain.train.interrupt import StopOnSignal
from adain.train.objectives import DISTIL_TEACHER_KEY, build_objective
from adain.train.tracking import Tracker


def _distributed() -> tuple[int, int]:
    """(rank, world size), initialising the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _agree(flag: bool, device: torch.device, world: int) -> bool:
    """Rank 0's flag, on every rank (a broadcast under DDP)."""
    if world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.broadcast(value, src=0)
    return bool(value.item())


class ValidationSet:
    """Fixed content × style pairs for the two scale-free numbers of design.md: pair i is
    contents[i] × styles[(7i + style_offset) mod len(styles)]; another offset gives other pairs
    of the same images (a second opinion on a checkpoint chosen with the first)."""

    def __init__(self, contents: list[Path], styles: list[Path], pairs: int, size: int, style_offset: int = 0):
        chosen = [(contents[i % len(contents)], styles[(i * 7 + style_offset) % len(styles)]) for i in range(pairs)]
        self.content = torch.cat([pil_to_tensor(center_square(open_image(c), size)) for c, _ in chosen])
        self.style = [pil_to_tensor(resize_shorter(open_image(s), size)) for _, s in chosen]
        self.names = [f"{c.stem}|{s.stem}" for c, s in chosen]

    @torch.no_grad()
    def score(self, objective, device: torch.device, autocast) -> tuple[dict[str, float], torch.Tensor]:
        """Mean relative content/style loss of the objective's outputs, and the outputs (N, 3, S, S)."""
        outputs, content_scores, style_scores = [], [], []
        for i, style in enumerate(self.style):
            content = self.content[i: i + 1].to(device)
            style = style.to(device)
            with autocast:
                out = objective.output(content, style).float().clamp(0, 1)
            content_scores.append(measure_relative_content(objective.encoder, out, content))
            style_scores.append(measure_relative_style(objective.encoder, out, style))
            outputs.append(out.cpu())
        scores = {"val/rel_content": torch.cat(content_scores).mean().item(),
                  "val/rel_style": torch.cat(style_scores).mean().item()}
        scores["val/score"] = scores["val/rel_content"] + scores["val/rel_style"]
        return scores, torch.cat(outputs)


def restore(state: dict, source: str, objective, optimizer, scheduler, announce: bool = True,
            lr: float | list[float] | None = None) -> tuple[int, float]:
    """Load a checkpoint's network, optimiser, schedule and RNG; returns (step, best score).

    A slim checkpoint (adain.train.checkpoint.write_slim_checkpoint) has no optimiser state: Adam's
    moments start afresh, at the learning rate the schedule had reached (not the base rate).
    `lr` (the resuming config's optim.lr, or one base rate per parameter group), where it
    differs from the checkpoint's base rates, replaces them: the schedule continues from the
    checkpoint's step at the new base rate, and one line says so.
    """
    if objective.network_key not in state:
        raise UserError(f"{source}: not a {objective.name} checkpoint (no {objective.network_key!r})")
    objective.network.load_state_dict(state[objective.network_key])
    saved_groups = len(state["scheduler"].get("base_lrs", optimizer.param_groups))
    if saved_groups != len(optimizer.param_groups):
        raise UserError(f"{source}: the checkpoint's optimiser has {saved_groups} parameter groups, this run "
                        f"{len(optimizer.param_groups)}; resume with the run's own optim.palette_lr_scale and optim.skip_lr_scale")
    if "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    elif announce:
        print(f"{source}: no optimiser state; Adam's moments start afresh", file=sys.stderr)
    scheduler.load_state_dict(state["scheduler"])
    lrs = None if lr is None else list(lr) if isinstance(lr, (list, tuple)) else [lr] * len(scheduler.base_lrs)
    if lrs is not None and lrs != list(scheduler.base_lrs):
        if announce:
            print(f"{source}: optim.lr={lrs[0]:g} replaces the checkpoint's base rate {scheduler.base_lrs[0]:g}; "
                  f"the schedule continues from step {state['step']} at the new rate", file=sys.stderr)
        scheduler.base_lrs = lrs
        scheduler._last_lr = [base * fn(scheduler.last_epoch) for base, fn in zip(lrs, scheduler.lr_lambdas)]
    for group, group_lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
        group["lr"] = group_lr
    set_rng_state(state["rng"])
    return int(state["step"]), float(state.get("best_score", math.inf))


def image_grid(rows: list[torch.Tensor], size: int = 128) -> torch.Tensor:
    """Rows of (N, 3, H, W) images → one (3, rows·size, N·size) grid, each image resized."""
    resized = [torch.nn.functional.interpolate(r.float().cpu(), size=(size, size), mode="bilinear",
                                               antialias=True, align_corners=False) for r in rows]
    lines = [torch.cat(list(r.clamp(0, 1)), dim=2) for r in resized]  # each (3, size, N·size)
    return torch.cat(lines, dim=1)


def run(cfg: TrainConfig, extras: dict | None = None) -> dict:
    """Train cfg.method's network as configured; returns the final validation scores and paths.
    `extras` are stored in every checkpoint (a staged recipe's whole config, adain.train.stages)."""
    rank, world = _distributed()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    dtype = resolve_dtype(cfg.precision, device)
    autocast = autocast_context(device, dtype)
    run_dir = Path(cfg.run_dir)
    torch.manual_seed(cfg.seed)

    # --- model: the method's objective owns the trained network ------------------------------
    resume_path = find_resume(run_dir, cfg.resume)
    objective_cfg = cfg
    if resume_path is not None and cfg.method == "adain":
        # The run's recorded config keeps the warm start and teacher it really had; the objective
        # takes both from the checkpoint, so that a run resumes on a machine without their files
        # (a slim checkpoint carried in git).
        objective_cfg = copy.deepcopy(cfg)
        if cfg.init_decoder:  # it only shapes the network (upsampling, input scale, palette head)
            objective_cfg.init_decoder = str(resume_path)  # before the checkpoint's weights replace its own
        if cfg.optim.distil_weight > 0:  # the teacher the run started with, not the student it resumes
            stored = DISTIL_TEACHER_KEY in load_checkpoint(resume_path)  # else a checkpoint older than the key
            objective_cfg.optim.distil_teacher = str(resume_path) if stored else (cfg.optim.distil_teacher or
                                                                                   cfg.init_decoder)
    objective = build_objective(objective_cfg, build_encoder(cfg.model.encoder, weights_path=cfg.model.encoder_weights)).to(device)
    network = objective.network
    network.train()

    # --- data -----------------------------------------------------------------------------
    content_pool = ImagePool(list_images(cfg.data.content), cfg.data.load_size, cfg.data.cache_images, cfg.data.crop_size)
    style_pool = ImagePool(list_images(cfg.data.style), cfg.data.load_size, cfg.data.cache_images,
                           cfg.data.crop_size) if objective.uses_style_batches else None
    batches = PairBatches(content_pool, style_pool, cfg.optim.batch_size, cfg.data.crop_size, cfg.seed,
                          cfg.data.hflip, rank, world)
    validation = ValidationSet(list_images(cfg.data.val_content), objective.validation_styles(), cfg.val_pairs,
                               cfg.val_size) if rank == 0 and cfg.val_pairs > 0 else None

    groups = (objective.parameter_groups(cfg.optim.lr) if hasattr(objective, "parameter_groups")
              else [{"params": list(network.parameters()), "lr": cfg.optim.lr}])
    optimizer = torch.optim.Adam(groups, lr=cfg.optim.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + cfg.optim.lr_decay * step))

    start_step, best_score, wandb_run_id = 0, math.inf, None
    if resume_path is not None:
        resumed = load_checkpoint(resume_path)
        start_step, best_score = restore(resumed, str(resume_path), objective, optimizer, scheduler,
                                         announce=rank == 0, lr=[group["lr"] for group in groups])
        wandb_run_id = resumed.get("wandb_run_id")  # absent in checkpoints from before it was kept
        del resumed

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # training shapes are fixed: pick the fastest kernels once
    trained = network
    if cfg.compile:
        try:
            # A compiler failure at the first call (not only here) falls back to eager, with a warning.
            torch._dynamo.config.suppress_errors = True
            trained = torch.compile(trained)
        except Exception as exc:  # no compiler toolchain: eager is correct, only slower
            print(f"torch.compile unavailable ({type(exc).__name__}); training eagerly", file=sys.stderr)
    if world > 1:
        trained = DistributedDataParallel(trained)

    config_dict = to_dict(cfg)
    tracker = Tracker(run_dir, config_dict, cfg.wandb.mode, cfg.wandb.project, cfg.wandb.entity,
                      cfg.wandb.name, cfg.wandb.tags, enabled=rank == 0, run_id=wandb_run_id)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        from omegaconf import OmegaConf

        OmegaConf.save(cfg, run_dir / "config.yaml")
        style_count, style_skipped = (len(style_pool), len(style_pool.skipped)) if style_pool else (1, 0)
        tracker.summary({"data/content_images": len(content_pool), "data/style_images": style_count,
                         "data/skipped": len(content_pool.skipped) + style_skipped})

    def checkpoint_state(step: int) -> dict:
        return {objective.network_key: unwrap(trained).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "rng": rng_state(),
                "config": config_dict, "best_score": best_score, "commit": git_commit(),
                "wandb_run_id": tracker.run_id, **objective.checkpoint_extras(), **(extras or {})}

    def validate(step: int) -> dict:
        nonlocal best_score
        network.eval()
        scores, outputs = validation.score(objective, device, autocast)
        network.train()
        shown = min(6, len(outputs))
        styles = torch.cat([s[..., :outputs.shape[-2], :outputs.shape[-1]] for s in validation.style[:shown]])
        tracker.log_image("val/grid", image_grid([validation.content[:shown], styles, outputs[:shown]]), step,
                          "content | style | output")
        improved = scores["val/score"] < best_score
        best_score = min(best_score, scores["val/score"])
        tracker.log({**scores, "val/best_score": best_score}, step)
        return {**scores, "improved": improved}

    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=range(start_step, cfg.steps),
                                         num_workers=cfg.data.workers, pin_memory=device.type == "cuda",
                                         persistent_workers=cfg.data.workers > 0)
    from adain.core.progress import progress_bar

    progress = progress_bar(cfg.steps, "train.py", unit="step", initial=start_step, disable=rank != 0,
                            dynamic_ncols=True)
    last = {"val/score": math.nan}
    window_start, window_images = time.perf_counter(), 0
    deadline = time.monotonic() + 60 * cfg.time_limit_min if cfg.time_limit_min > 0 else math.inf
    step = start_step
    # Ctrl-C / SIGTERM: finish the step, checkpoint, stop (adain.train.interrupt; one process only)
    stop = StopOnSignal(enabled=world == 1)
    try:
        with stop:
            for step_index, (content, style) in zip(range(start_step, cfg.steps), loader):
                step = step_index + 1
                content = to_unit_float(content, device)
                if style is not None:  # None for per-style methods
                    style = to_unit_float(style, device)
                losses = objective.losses(trained, content, style, autocast)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                if cfg.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(network.parameters(), cfg.optim.grad_clip)
                optimizer.step()
                scheduler.step()
                window_images += content.shape[0] * world
                # decided once the step is done, so that a signal during it stops the run right after it
                stopping = stop.requested is not None or (
                    # every rank must stop at the same step (DDP), so rank 0's clock decides
                    deadline < math.inf and _agree(time.monotonic() >= deadline, device, world))
                last_step = step == cfg.steps or stopping
                if rank != 0:
                    if stopping:
                        break
                    continue
                progress.update(1)
                if step % cfg.log_every == 0 or last_step:  # .item() waits for the device: only at log steps
                    elapsed = time.perf_counter() - window_start
                    scalars = {f"train/{name}": value.item() for name, value in losses.items()}
                    if not math.isfinite(scalars["train/loss"]):
                        raise UserError(f"training diverged by step {step} (loss {scalars['train/loss']}); "
                                        f"lower optim.lr")
                    scalars.update({"train/lr": scheduler.get_last_lr()[0],
                                    "train/images_per_s": window_images / max(elapsed, 1e-9)})
                    tracker.log(scalars, step)
                    progress.set_postfix(content=f"{scalars['train/loss_content']:.3f}",
                                         style=f"{scalars['train/loss_style']:.3f}")
                    window_start, window_images = time.perf_counter(), 0
                if cfg.image_every and step % cfg.image_every == 0:
                    shown = min(4, content.shape[0])
                    with torch.no_grad(), autocast:
                        rows = objective.sample_rows(content[:shown], None if style is None else style[:shown])
                    tracker.log_image("train/grid", image_grid(rows), step, objective.sample_caption)
                improved = False
                if validation is not None and cfg.val_every and (step % cfg.val_every == 0 or last_step):
                    last = validate(step)
                    improved = last["improved"]
                if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or last_step or improved:
                    save_checkpoint(run_dir, checkpoint_state(step), step, cfg.keep_checkpoints, cfg.checkpoint_every,
                                    best=improved)
                if stopping:
                    reason = f"{stop.requested} received" if stop.requested else \
                        f"time limit of {cfg.time_limit_min:g} min reached"
                    print(f"{reason}: stopped at step {step} with a checkpoint; resume with --resume", file=sys.stderr)
                    break
    except OSError as exc:  # a full disk, a read-only or vanished run directory
        progress.close()
        with contextlib.suppress(Exception):  # W&B may not be able to write either
            tracker.finish()
        good = run_dir / CHECKPOINT_DIR / "latest.pt"
        kept = f"{good} (step {load_checkpoint(good)['step']}) is intact" if good.is_file() else "no checkpoint yet"
        raise UserError(f"{run_dir}: cannot write ({exc.strerror or exc}) after step {step}; {kept}; "
                        f"free space or fix the folder, then resume with --resume") from None
    progress.close()
    result = {"step": step, "run_dir": str(run_dir), "best_score": best_score,
              **{k: v for k, v in last.items() if k != "improved"}}
    if stop.requested:  # the stage runner must not go on to the next stage
        result["stopped_by"] = stop.requested
    tracker.summary(result)
    tracker.finish()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result
