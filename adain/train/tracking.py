"""Experiment tracking: W&B (online, offline or disabled) plus a local metrics.jsonl.

W&B is optional: without the package, or with mode "disabled", only the local files are written.
Offline runs are real W&B run folders under <run_dir>/wandb, to `wandb sync` later.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch


class Tracker:
    def __init__(self, run_dir: Path, config: dict, mode: str = "offline", project: str = "adain",
                 entity: str | None = None, name: str | None = None, tags=(), enabled: bool = True,
                 run_id: str | None = None):
        """`run_id`: the W&B run to continue (kept in training checkpoints, so that every
        resumed chunk of a run logs to the same W&B run); None starts a new one."""
        self.run_dir = Path(run_dir)
        self.enabled = enabled  # False on DDP ranks other than 0
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.run = None
        self._run_id = run_id  # carried on even by a chunk that runs without W&B
        if not enabled or mode == "disabled":
            return
        if mode not in ("online", "offline"):
            raise ValueError(f"wandb.mode must be online, offline or disabled, got {mode!r}")
        try:
            import wandb
        except ImportError:
            warnings.warn("wandb is not installed: logging to metrics.jsonl only")
            return
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, entity=entity, name=name, tags=list(tags), config=config,
                              dir=str(self.run_dir), mode=mode, reinit="finish_previous",
                              id=run_id, resume="allow" if run_id else None)
        self._run_id = self.run.id

    @property
    def run_id(self) -> str | None:
        """The W&B run's id (None without W&B), for the checkpoint."""
        return self._run_id

    def log(self, metrics: dict, step: int) -> None:
        if not self.enabled:
            return
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **metrics}) + "\n")
        if self.run is not None:
            self.run.log(metrics, step=step)

    def log_image(self, key: str, grid: torch.Tensor, step: int, caption: str = "") -> Path | None:
        """Save a (3, H, W) grid in [0, 1] as <run_dir>/samples/<key>_<step>.png and to W&B."""
        if not self.enabled:
            return None
        from adain.core.io import save_image

        path = save_image(grid, self.run_dir / "samples" / f"{key}_{step:07d}.png")
        if self.run is not None:
            import wandb

            self.run.log({key: wandb.Image(str(path), caption=caption)}, step=step)
        return path

    def summary(self, values: dict) -> None:
        if self.run is not None:
            self.run.summary.update(values)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
