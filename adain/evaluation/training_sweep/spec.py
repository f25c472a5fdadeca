"""The sweep file and its grid: a W&B sweep file read and checked for the local runner, the grid
of points it expands to, the command line's key=value split over it, each point's train config,
and the names of the files a run folder holds."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from adain.core.errors import UserError

# A run folder: RUN_DIR/<slug>/ per point (and RUN_DIR/reference/ for the warm start's decoder).
DECODER_FILE = "decoder.safetensors"
POINT_FILE = "point.json"
EVAL_DIR = "eval"
EVAL_DONE = "sweep_eval.json"  # written after an evaluation without errors: its settings
REFERENCE = "reference"
# The command's fixed arguments the local runner replaces (see the package docstring).
IGNORED_FIXED = ("run_dir", "wandb.mode")


@dataclass
class SweepSpec:
    """What the local runner takes from a W&B sweep file."""

    path: Path
    base_config: str | None
    fixed: list[str]  # key=value from the command, W&B's macros and IGNORED_FIXED removed
    parameters: dict[str, list[Any]]  # key → values, in file order
    metric: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


@dataclass
class Point:
    index: int
    values: dict[str, Any]  # parameter key → value
    slug: str

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={_override_text(value)}" for key, value in self.values.items()]


def _override_text(value: Any) -> str:
    """A value as a dot-override's text (OmegaConf reads it back to the same value)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if value is None:
        return "null"
    return str(value)


# --- the sweep file ------------------------------------------------------------------------------

def load_sweep(path: str | Path) -> SweepSpec:
    """Parse a W&B sweep file for the local grid; UserError (one line) for anything it cannot run."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: sweep file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a W&B sweep (a mapping with method, parameters, command)")
    method = raw.get("method", "grid")
    if method != "grid":
        raise UserError(f"{path}: method {method!r}; the local runner runs grids only (method: grid)")
    parameters = raw.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise UserError(f"{path}: expected `parameters`, a mapping of train-config keys to values")
    values: dict[str, list[Any]] = {}
    for key, spec in parameters.items():
        if isinstance(spec, dict) and "values" in spec:
            if not isinstance(spec["values"], list) or not spec["values"]:
                raise UserError(f"{path}: parameter {key!r}: `values` must be a non-empty list")
            values[str(key)] = list(spec["values"])
        elif isinstance(spec, dict) and "value" in spec:
            values[str(key)] = [spec["value"]]
        else:
            raise UserError(f"{path}: parameter {key!r}: expected `values: [...]` or `value: ...` "
                            f"(a grid has no distributions)")
    base, fixed = _parse_command(path, raw.get("command"))
    return SweepSpec(path, base, fixed, values, raw.get("metric") or {}, raw)


def _parse_command(path: Path, command) -> tuple[str | None, list[str]]:
    """`--config BASE` and the fixed key=value arguments of a sweep's `command`."""
    if command is None:
        return None, []
    if not isinstance(command, list):
        raise UserError(f"{path}: `command` must be a list of arguments")
    base, fixed = None, []
    items = [str(item) for item in command]
    index = 0
    while index < len(items):
        item = items[index]
        if item.startswith("${") and item.endswith("}"):  # W&B's macros
            pass
        elif item == "--config":
            if index + 1 >= len(items):
                raise UserError(f"{path}: command: --config needs a file")
            base = items[index + 1]
            index += 1
        elif item.startswith("--config="):
            base = item.split("=", 1)[1]
        elif item.startswith("-"):
            raise UserError(f"{path}: command: {item!r}; expected --config FILE and key=value arguments "
                            f"(the local runner resumes points itself)")
        elif "=" in item:
            if item.partition("=")[0].strip() not in IGNORED_FIXED:
                fixed.append(item)
        else:
            raise UserError(f"{path}: command: {item!r}; expected key=value")
        index += 1
    return base, fixed


def check_keys(spec: SweepSpec) -> None:
    """Every parameter must name a train-config setting (not a section, not a misspelling)."""
    from omegaconf import OmegaConf

    from adain.train.config import TrainConfig

    schema = OmegaConf.structured(TrainConfig)
    missing = object()
    for key in spec.parameters:
        found = OmegaConf.select(schema, key, default=missing)
        if found is missing:
            raise UserError(f"{spec.path}: parameter {key!r} is not a train-config key (adain.train.config.TrainConfig)")
        if OmegaConf.is_dict(found):
            raise UserError(f"{spec.path}: parameter {key!r} is a section of the train config; expected one "
                            f"of its settings ({key}.<name>)")
        if key in IGNORED_FIXED or key in ("resume", "stage"):
            raise UserError(f"{spec.path}: parameter {key!r} is set by the runner; sweep other keys")


def points(spec: SweepSpec) -> list[Point]:
    """The grid in a stable order (file order, the last key fastest), each with a readable slug made
    of the parameters that take more than one value (`lr-0.0001_style_weight-5`)."""
    from adain.evaluation.sweep import short, slug

    swept = [key for key, values in spec.parameters.items() if len(values) > 1]
    names = {key: key.rsplit(".", 1)[-1] for key in swept}
    for key in swept:  # two keys with the same last part (optim.content_weight, johnson.content_weight)
        if list(names.values()).count(names[key]) > 1:
            names[key] = key
    keys = list(spec.parameters)
    grid = []
    for index, combo in enumerate(itertools.product(*(spec.parameters[k] for k in keys))):
        values = dict(zip(keys, combo))
        label = ",".join(f"{names[k]}={short(values[k])}" for k in swept) or "point"
        grid.append(Point(index, values, slug(label)))
    seen: dict[str, Point] = {}
    for point in grid:
        if point.slug in seen:
            raise UserError(f"{spec.path}: points {seen[point.slug].values} and {point.values} share the folder "
                            f"name {point.slug!r}; expected distinct values")
        seen[point.slug] = point
    return grid


def split_overrides(spec: SweepSpec, overrides: Sequence[str]) -> tuple[SweepSpec, list[str]]:
    """The command line's key=value: one for a swept key keeps that single value of it (the spec
    returned has it); the rest are returned to apply after the fixed arguments."""
    import yaml

    rest, parameters = [], dict(spec.parameters)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"override {item!r}: expected key=value")
        if key in ("run_dir", "resume"):
            raise UserError(f"override {item!r}: the sweep sets {key} itself (use --run-dir)")
        if key in parameters:
            try:
                parameters[key] = [yaml.safe_load(text)]
            except yaml.YAMLError:
                parameters[key] = [text]
        else:
            rest.append(item)
    return SweepSpec(spec.path, spec.base_config, spec.fixed, parameters, spec.metric, spec.raw), rest


def point_config(spec: SweepSpec, point: Point, extra: Sequence[str], folder: Path):
    from adain.train.config import load_config

    return load_config(spec.base_config, [*spec.fixed, *point.overrides, *extra, f"run_dir={folder}", "resume=auto"])

