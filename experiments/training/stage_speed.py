"""Seconds per training step of each stage of a recipe, and the whole recipe's time from them.

    .venv/bin/python experiments/training/stage_speed.py [--config configs/train/default.yaml] \
        [--repeat 5] [--device auto] [--json OUT]

Each stage runs its own resolved config (batch, crop, losses, decoder inputs) for one warm-up
step and `--repeat` timed steps (forward, backward, clipping, Adam) on seeded random batches, on
the fast path train.py takes (bf16 autocast where the hardware has it).  Not counted: loading
and cropping images (in memory after the first epoch), validation every `val_every` steps and
checkpoints (seconds each, every few hundred steps).  Run it on a quiet machine.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.core.runtime import resolve_device, resolve_dtype  # noqa: E402
from adain.nn.pretrained import build_encoder  # noqa: E402
from adain.train.config import load_config  # noqa: E402
from adain.core.runtime import autocast_context  # noqa: E402
from adain.train.objectives import build_objective  # noqa: E402
from adain.train.stages import stage_configs  # noqa: E402


def seconds_per_step(stage, encoder, device: torch.device, dtype: torch.dtype, repeat: int) -> float:
    stage.init_decoder = None  # a fresh decoder of the stage's architecture: the same work per step
    objective = build_objective(stage, encoder).to(device)
    network = objective.network
    optimizer = torch.optim.Adam(objective.parameter_groups(stage.optim.lr), lr=stage.optim.lr)
    generator = torch.Generator().manual_seed(0)
    shape = (stage.optim.batch_size, 3, stage.data.crop_size, stage.data.crop_size)
    content = torch.rand(shape, generator=generator).to(device).contiguous(memory_format=torch.channels_last)
    style = torch.rand(shape, generator=generator).to(device).contiguous(memory_format=torch.channels_last)
    autocast = autocast_context(device, dtype)
    times = []
    for index in range(repeat + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        losses = objective.losses(network, content, style, autocast)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), stage.optim.grad_clip)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first step warms up allocations and kernel selection
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/train/default.yaml"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json")
    args = parser.parse_args()
    cfg = load_config(args.config, [])
    device = resolve_device(args.device)
    dtype = resolve_dtype(cfg.precision, device)
    encoder = build_encoder(cfg.model.encoder)
    rows = []
    print(f"{device}, {str(dtype).replace('torch.', '')}, {torch.get_num_threads()} threads, median of "
          f"{args.repeat} steps")
    print(f"{'stage':<12}{'steps':>7}{'batch':>7}{'crop':>6}{'s/step':>9}{'minutes':>9}")
    for stage in stage_configs(cfg):
        seconds = seconds_per_step(stage, encoder, device, dtype, args.repeat)
        rows.append({"stage": stage.stage, "steps": stage.steps, "batch": stage.optim.batch_size,
                     "crop": stage.data.crop_size, "seconds_per_step": seconds, "minutes": seconds * stage.steps / 60})
        print(f"{stage.stage:<12}{stage.steps:>7}{stage.optim.batch_size:>7}{stage.data.crop_size:>6}"
              f"{seconds:>9.3f}{seconds * stage.steps / 60:>9.1f}", flush=True)
    total = sum(row["minutes"] for row in rows)
    print(f"{'total':<12}{sum(r['steps'] for r in rows):>7}{'':>22}{total:>9.1f}  ({total / 60:.1f} h)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": str(device), "dtype": str(dtype),
                                               "threads": torch.get_num_threads(), "stages": rows,
                                               "total_minutes": total}, indent=1))


if __name__ == "__main__":
    main()
