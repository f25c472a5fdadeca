"""A staged training recipe: one config, one command, resumable at any moment.

    python train.py --config configs/train/default.yaml            # from the encoder alone
    python train.py --config configs/train/default.yaml --resume   # continue where it stopped

`cfg.stages` lists the stages in order.  Stage k trains `steps` steps in run_dir/<k>-<name>/ with
the recipe's settings (the YAML and the command line's key=value) plus that stage's own overrides,
and starts from stage k − 1's last decoder with a fresh optimiser and schedule.  A stage's overrides
are not inherited by the next stage: each stage says all it changes, so that a command-line
override reaches every stage that does not set the key itself; `stages.<name>.<key>=<value>` on the
command line changes that stage alone, over its own overrides.  After the last stage
its final checkpoint is averaged with its newest numbered ones (`average_last`) into
run_dir/decoder.safetensors, whose JSON description holds the whole recipe.

`--resume` alone continues from the last stage that has a checkpoint in run_dir (the ones before
it count as done); `resume=<checkpoint>` (a slim checkpoint carried between machines) continues
the stage that checkpoint belongs to, or, when that stage is finished, starts the next one from it.
The time limit (`time_limit_min`) is shared by all stages of one command.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from adain.core.errors import UserError
from adain.train.checkpoint import CHECKPOINT_DIR, atomic_torch_save, load_checkpoint
from adain.train.config import TrainConfig, portable, to_dict

DECODER_FILE = "decoder.safetensors"


def stage_configs(cfg: TrainConfig) -> list[TrainConfig]:
    """The resolved config of every stage (see the module docstring); raises UserError naming the
    stage for an override with an unknown key or a value of the wrong type."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    names = [stage.name for stage in cfg.stages]
    if len(set(names)) != len(names):
        raise UserError(f"stages: names {names} repeat; expected one name per stage")
    base = cfg.copy()
    base.stages = []
    resolved = []
    for index, stage in enumerate(cfg.stages, start=1):
        if stage.steps < 1:
            raise UserError(f"stage {stage.name!r}: steps {stage.steps}; expected at least 1")
        bad = [item for item in stage.overrides if "=" not in item]
        if bad:
            raise UserError(f"stage {stage.name!r}: override {bad[0]!r}: expected key=value")
        try:
            stage_cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(list(stage.overrides)))
        except OmegaConfBaseException as exc:
            raise UserError(f"stage {stage.name!r}: {str(exc).splitlines()[0]}") from None
        stage_cfg.stage = stage.name
        stage_cfg.steps = stage.steps
        stage_cfg.run_dir = str(Path(cfg.run_dir) / f"{index}-{stage.name}")
        stage_cfg.resume = None
        if index > 1:  # the previous stage's last decoder; its own warm start only began stage 1
            stage_cfg.init_decoder = str(Path(resolved[-1].run_dir) / CHECKPOINT_DIR / "latest.pt")
        resolved.append(stage_cfg)
    return resolved


def check_averaging(cfg: TrainConfig, last: TrainConfig) -> None:
    """Raises UserError, before anything trains, when the last stage will not keep the
    `average_last − 1` numbered checkpoints that the export averages with its final one."""
    wanted = cfg.average_last - 1
    if wanted <= 0:
        return
    every = last.checkpoint_every
    # step_XXXXXXX.pt files before the final step: multiples of `every` below `steps`; the final
    # step's own numbered file, when `every` divides it, takes one of the `keep_checkpoints` places.
    before = (last.steps - 1) // every if every > 0 else 0
    places = last.keep_checkpoints - (1 if every > 0 and last.steps % every == 0 else 0)
    kept = before if last.keep_checkpoints <= 0 else min(before, places)  # keep ≤ 0: every one is kept
    if kept < wanted:
        raise UserError(f"average_last {cfg.average_last}: stage {last.stage!r} ({last.steps} steps, checkpoint_every "
                        f"{every}, keep_checkpoints {last.keep_checkpoints}) keeps {kept} numbered checkpoint(s) "
                        f"before its last step; expected at least {wanted}")


def _latest_step(stage_cfg: TrainConfig) -> int | None:
    latest = Path(stage_cfg.run_dir) / CHECKPOINT_DIR / "latest.pt"
    return int(load_checkpoint(latest)["step"]) if latest.is_file() else None


def _first_stage(cfg: TrainConfig, stages: list[TrainConfig]) -> int:
    """Index of the stage to run first: the one an explicit resume checkpoint belongs to; with
    `--resume` alone the last stage that has a checkpoint in run_dir (the stages before it are done,
    though a run that began from a slim checkpoint has no folders for them); else 0."""
    if cfg.resume is None:
        return 0
    if cfg.resume == "auto":
        started = [index for index, stage in enumerate(stages) if _latest_step(stage) is not None]
        return started[-1] if started else 0
    path = Path(cfg.resume)
    if not path.is_file():
        raise UserError(f"{path}: resume checkpoint not found")
    name = load_checkpoint(path)["config"].get("stage")
    names = [stage.stage for stage in stages]
    if name not in names:
        raise UserError(f"{path}: a checkpoint of stage {name!r}; expected one of this recipe's stages {names}")
    return names.index(name)


COMPARED_SECTIONS = ("model", "optim", "data")
MACHINE_KEYS = {"data.content", "data.style", "data.val_content", "data.val_style"}  # paths differ by machine


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {key: item for name, sub in value.items() for key, item in _flat(sub, f"{prefix}{name}.").items()}
    return {prefix[:-1]: value}


def changed_keys(saved: dict, stage: TrainConfig) -> list[str]:
    """Keys of model/optim/data (data paths aside) whose value in the stage's config differs from
    the config a checkpoint was trained with: "key: saved → now".  A key the checkpoint's config
    lacks (an option added since) is a change only when the stage sets it off its default — which
    holds because a new TrainConfig option must default to the behaviour from before it."""
    from omegaconf import OmegaConf

    def sections(config: dict) -> dict:
        return _flat({k: config.get(k, {}) for k in COMPARED_SECTIONS})

    old, new = sections(saved), sections(to_dict(stage))
    default = sections(to_dict(OmegaConf.structured(TrainConfig)))
    before = {key: old.get(key, default.get(key)) for key in set(old) | set(new)}
    return [f"{key}: {before[key]} → {new.get(key)}" for key in sorted(before)
            if key not in MACHINE_KEYS and before[key] != new.get(key)]


def _warn_if_changed(checkpoint: Path, saved: dict, stage: TrainConfig) -> None:
    """A stage resumed part-way from `checkpoint` (trained with the config `saved`) with other settings
    than it began with mixes two recipes (and its decoder's JSON records only the second): say so,
    naming the keys."""
    changed = changed_keys(saved, stage)
    if changed:
        print(f"train.py: warning: stage {stage.stage!r} resumes {checkpoint} with other settings than it was "
              f"trained with ({'; '.join(changed[:4])}{'; …' if len(changed) > 4 else ''}); the command line "
              f"of the chunk that began it (stages.<name>.<key> included) continues it unchanged", file=sys.stderr)


def train(cfg: TrainConfig) -> dict:
    """train.py's entry point: the staged recipe when `cfg.stages` is set, else one run."""
    if cfg.stages:
        return run_stages(cfg)
    from adain.train.loop import run

    return run(cfg)


def run_stages(cfg: TrainConfig) -> dict:
    """Train every stage of `cfg.stages` in order (resuming as the module docstring says) and
    export the averaged decoder after the last; returns the last stage's result, with `decoder`
    set once the recipe is complete."""
    from adain.train.loop import run

    stages = stage_configs(cfg)
    check_averaging(cfg, stages[-1])
    start = _first_stage(cfg, stages)
    if cfg.resume is None and any(_latest_step(stage) is not None for stage in stages):
        raise UserError(f"{cfg.run_dir}: already holds this recipe's checkpoints; add --resume to continue "
                        f"them or choose another run_dir")
    recipe = portable(to_dict(cfg))
    deadline = time.monotonic() + 60 * cfg.time_limit_min if cfg.time_limit_min > 0 else math.inf
    result: dict = {}
    for index in range(start, len(stages)):
        stage = stages[index]
        done = _latest_step(stage)
        if index == start and cfg.resume not in (None, "auto"):
            resumed = load_checkpoint(cfg.resume)
            if int(resumed["step"]) >= stage.steps:
                # A finished stage's checkpoint: it becomes that stage's latest.pt, where the next
                # stage starts from and where a later plain --resume finds it.
                target = Path(stage.run_dir) / CHECKPOINT_DIR / "latest.pt"
                later = [s.stage for s in stages[index + 1:] if _latest_step(s) is not None]
                if later:  # they would resume from their own checkpoints, not from this one
                    raise UserError(f"{cfg.run_dir}: already holds checkpoints of the later stage(s) {later}; "
                                    f"start from {cfg.resume} in another run_dir")
                if Path(cfg.resume).resolve() != target.resolve():
                    atomic_torch_save(resumed, target)
                continue
            stage.resume = cfg.resume
            _warn_if_changed(Path(cfg.resume), resumed["config"], stage)
        elif done is not None:
            if done >= stage.steps:
                continue
            stage.resume = "auto"
            latest = Path(stage.run_dir) / CHECKPOINT_DIR / "latest.pt"
            _warn_if_changed(latest, load_checkpoint(latest)["config"], stage)
        elif index > 0 and not Path(stage.init_decoder).is_file():
            raise UserError(f"stage {stage.stage!r}: stage {stages[index - 1].stage!r} has no checkpoint at "
                            f"{stage.init_decoder}; run the recipe from its start")
        if deadline < math.inf:
            remaining = (deadline - time.monotonic()) / 60
            if remaining <= 0:
                break
            stage.time_limit_min = remaining
        print(f"train.py: stage {index + 1}/{len(stages)} {stage.stage!r} in {stage.run_dir}", file=sys.stderr)
        result = {**run(stage, extras={"recipe": recipe}), "stage": stage.stage}
        if result["step"] < stage.steps or result.get("stopped_by"):  # the time limit, or Ctrl-C / SIGTERM
            return result
    if _latest_step(stages[-1]) is None or _latest_step(stages[-1]) < stages[-1].steps:
        return result
    result["decoder"] = str(export_recipe_decoder(cfg, stages[-1]))
    return result


def export_recipe_decoder(cfg: TrainConfig, last: TrainConfig) -> Path:
    """The last stage's final checkpoint averaged with its `average_last − 1` newest numbered
    checkpoints → run_dir/decoder.safetensors (+ .json)."""
    from adain.train.export import export_decoder

    folder = Path(last.run_dir) / CHECKPOINT_DIR
    latest = folder / "latest.pt"
    final_step = int(load_checkpoint(latest)["step"])
    numbered = sorted(path for path in folder.glob("step_*.pt") if not path.name.endswith(f"{final_step:07d}.pt"))
    others = numbered[-(cfg.average_last - 1):] if cfg.average_last > 1 else []
    if len(others) < cfg.average_last - 1:
        # check_averaging guarantees them on one machine; a last stage resumed elsewhere from a slim
        # checkpoint has only the numbered checkpoints written after it.  The JSON's
        # averaged_with_steps records what the mean is of.
        print(f"train.py: warning: average_last {cfg.average_last}, but {folder} holds only {len(others)} numbered "
              f"checkpoint(s) before step {final_step} (the stage was resumed from a slim checkpoint); "
              f"averaging {len(others) + 1}", file=sys.stderr)
    return export_decoder(latest, Path(cfg.run_dir) / DECODER_FILE, average_with=others)
