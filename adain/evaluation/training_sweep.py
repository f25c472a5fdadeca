"""Training hyperparameter sweeps: one W&B sweep file, run by W&B or locally as a resumable grid.

    wandb sweep configs/sweep/train.yaml && wandb agent ENTITY/PROJECT/ID      # on W&B, one train.py run per point
    adain sweep --config configs/sweep/train.yaml --run-dir runs/sweep-lr \\
        [--pairs 8] [--size 256] [key=value ...]                               # here: train, export, evaluate

The local runner reads the same file as W&B:

- `parameters`: each a dotted train-config key (adain.train.config.TrainConfig) with a `values`
  list (or one `value`).  The grid is their product in file order, the last key varying fastest.
- `command`: `--config BASE` and the fixed `key=value` arguments, as train.py receives them.  W&B's
  macros (`${env}`, `${interpreter}`, `${program}`, `${args_no_hyphens}`, …) are skipped, and so
  are `run_dir` (each point trains in RUN_DIR/<slug>/) and `wandb.mode` (a W&B agent needs
  "online"; locally the base config's mode holds, offline by default, unless a key=value sets it).
- The command line's `key=value` come after the fixed ones; one for a swept key keeps that single
  value of it (`data.crop_size=128` runs only the 128 column of the grid).

Each point: the base config + fixed arguments + the point's values + the command line's key=value
→ adain.train.stages.train into RUN_DIR/<slug>/ (as train.py --resume: a stopped point continues
from its own latest checkpoint) → RUN_DIR/<slug>/decoder.safetensors (a staged config exports its
own; a single run's final checkpoint is exported) → the evaluation harness on the first C val
contents × S val styles (C·S = --pairs) at --size² → RUN_DIR/<slug>/eval/summary.json.  When the
base config warm-starts (`init_decoder`, e.g. the fine-tune) that decoder is scored on the same
pairs as the reference row, in RUN_DIR/reference/.  After every point RUN_DIR/sweep.csv,
sweep.md and sweep.png are rewritten (atomically) from what is on disk.

A point whose decoder exists and whose evaluation finished with these pairs is skipped.  Every
point writes only inside its own folder (and the shared evaluation cache, keyed by the decoder
file's contents), and RUN_DIR/<slug>/point.json records its resolved config: a point folder
trained with other settings is refused, not continued.  Bad input (missing sweep file, a key
that is not a train-config key, an empty values list, …) is a UserError before anything trains.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from adain.core.errors import UserError

DECODER_FILE = "decoder.safetensors"
POINT_FILE = "point.json"
EVAL_DIR = "eval"
EVAL_DONE = "sweep_eval.json"  # written after an evaluation without errors: its settings
REFERENCE = "reference"
# The command's fixed arguments the local runner replaces (see the module docstring).
IGNORED_FIXED = ("run_dir", "wandb.mode")
# Config keys that may change between chunks of one point without making it another experiment.
VOLATILE = ("run_dir", "resume", "time_limit_min", "wandb", "device", "precision", "compile")
# Columns of sweep.md's measures table (sweep.csv has every measure of the summary).
TABLE_MEASURES = ("effnet_content", "effnet_layout", "effnet_style_mean_std", "effnet_style_gram", "color_w1",
                  "rel_content", "rel_style", "frame", "grid", "stray_colour", "halo", "blotch", "muddiness",
                  "colour_leak")
LOSS_COLUMNS = ("loss", "loss_content", "loss_style", "loss_colour", "loss_sw", "loss_identity_feature",
                "loss_identity_pixel", "loss_structure")


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


# --- one point -------------------------------------------------------------------------------------

def point_config(spec: SweepSpec, point: Point, extra: Sequence[str], folder: Path):
    from adain.train.config import load_config

    return load_config(spec.base_config, [*spec.fixed, *point.overrides, *extra, f"run_dir={folder}", "resume=auto"])


def _experiment(cfg) -> dict:
    """The resolved config that decides a point's training (VOLATILE keys dropped)."""
    from adain.train.config import to_dict

    return {key: value for key, value in to_dict(cfg).items() if key not in VOLATILE}


def _check_claim(folder: Path, cfg) -> None:
    """A point folder that exists must have been trained with this experiment's config."""
    path = folder / POINT_FILE
    if not path.is_file():
        if (folder / DECODER_FILE).is_file() or any(folder.rglob("latest.pt")):
            raise UserError(f"{folder}: holds a training run but no {POINT_FILE}; choose another --run-dir")
        return
    before = json.loads(path.read_text()).get("config")
    now = json.loads(json.dumps(_experiment(cfg), default=str))
    if before != now:
        raise UserError(f"{folder}: trained with other settings ({_first_difference(before, now)}); keep the sweep "
                        f"file and key=value of its first run, or choose another --run-dir")


def _claim(folder: Path, point: Point, cfg) -> None:
    """Write folder/point.json (the point's values and resolved config) unless it is there."""
    from adain.evaluation.cache import write_json_atomic

    if not (folder / POINT_FILE).is_file():
        write_json_atomic(folder / POINT_FILE, {"slug": point.slug, "values": point.values, "config": _experiment(cfg)})


def _first_difference(a, b, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} then, {b!r} now"


def train_point(cfg, folder: Path, log) -> Path | None:
    """Train (or continue) one point; its decoder file, or None when the run stopped early
    (time_limit_min)."""
    from adain.train.checkpoint import CHECKPOINT_DIR, load_checkpoint
    from adain.train.stages import train

    decoder = folder / DECODER_FILE
    if cfg.method != "adain":
        raise UserError(f"method {cfg.method!r}: the sweep scores AdaIN decoders; expected method adain")
    result = train(cfg)
    if cfg.stages:  # the staged recipe exports its own decoder once its last stage is done
        return Path(result["decoder"]) if result.get("decoder") else None
    latest = folder / CHECKPOINT_DIR / "latest.pt"
    if not latest.is_file() or int(load_checkpoint(latest)["step"]) < cfg.steps:
        return None
    from adain.train.export import export_decoder

    log(f"sweep: exporting {latest} → {decoder}")
    return export_decoder(latest, decoder)


def eval_config(train_cfg, decoder: Path, label: str, out: Path, cache: Path, pairs: int, size: int, threads: int):
    """The evaluation of one decoder on the first C val contents × S val styles (C·S = pairs)."""
    from adain.evaluation.config import MethodEntry, load_eval_config

    contents, styles = pair_layout(pairs)
    cfg = load_eval_config(None)
    cfg.content, cfg.style = train_cfg.data.val_content, train_cfg.data.val_style
    cfg.max_contents, cfg.max_styles = contents, styles
    cfg.size = size
    cfg.threads = threads
    cfg.run_dir, cfg.cache_dir = str(out), str(cache)
    cfg.methods = [MethodEntry(name="adain", label=label, settings={"decoder": str(decoder)})]
    cfg.metrics.standard = False  # FID/LPIPS need weights this project does not ship
    cfg.wandb.mode = train_cfg.wandb.mode
    return cfg


def pair_layout(pairs: int) -> tuple[int, int]:
    """(contents, styles) with contents · styles = pairs, as square as `pairs` allows, contents ≥ styles."""
    if pairs < 1:
        raise UserError(f"--pairs {pairs}: expected at least 1")
    styles = max(d for d in range(1, int(math.isqrt(pairs)) + 1) if pairs % d == 0)
    return pairs // styles, styles


def _eval_settings(cfg) -> dict:
    return {"content": cfg.content, "style": cfg.style, "max_contents": cfg.max_contents,
            "max_styles": cfg.max_styles, "size": cfg.size}


def evaluated(out: Path, cfg) -> bool:
    done = out / EVAL_DONE
    return (out / "summary.json").is_file() and done.is_file() and json.loads(done.read_text()) == _eval_settings(cfg)


def evaluate(cfg, log) -> None:
    """Run the harness; mark the evaluation done only when it finished without errors."""
    from adain.evaluation import run
    from adain.evaluation.cache import write_json_atomic

    out = Path(cfg.run_dir)
    (out / EVAL_DONE).unlink(missing_ok=True)
    status = run(cfg, log=log)
    summary = json.loads((out / "summary.json").read_text())
    if status != 0 or not summary["variants"] or not summary["variants"][0].get("pairs"):
        errors = summary.get("errors") or [summary["variants"][0].get("note") if summary["variants"] else "no variant"]
        raise UserError(f"{out}: evaluation failed: {errors[0]}")
    write_json_atomic(out / EVAL_DONE, _eval_settings(cfg))


# --- the table ------------------------------------------------------------------------------------

def training_record(folder: Path) -> dict:
    """Steps trained and the final training losses of a point: the mean of every logged value in
    the last quarter of its last run's steps (one batch is noisy), and its last validation score."""
    files = sorted(folder.glob("*/metrics.jsonl")) or sorted(folder.glob("metrics.jsonl"))
    files = [f for f in files if f.parent.name != EVAL_DIR]
    if not files:
        return {}
    by_step: dict[int, dict] = {}
    for line in files[-1].read_text().splitlines():  # the last stage's (a single run: the only) file
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        by_step.setdefault(int(record["step"]), {}).update(record)  # a resumed chunk repeats steps
    train_rows = [(s, r) for s, r in sorted(by_step.items()) if "train/loss" in r]
    val_rows = [r for _, r in sorted(by_step.items()) if "val/score" in r]
    out: dict[str, Any] = {}
    if train_rows:
        last = train_rows[-1][0]
        window = [r for s, r in train_rows if s > last * 3 / 4] or [train_rows[-1][1]]
        out["steps"] = last
        for name in LOSS_COLUMNS:
            values = [r[f"train/{name}"] for r in window if f"train/{name}" in r]
            if values:
                out[f"train_{name}"] = statistics.fmean(values)
    if val_rows:
        out["val_score"] = val_rows[-1]["val/score"]
    return out


def measures(out: Path) -> dict:
    """The evaluation's means of one decoder (summary.json's only variant)."""
    path = out / "summary.json"
    if not path.is_file() or not (out / EVAL_DONE).is_file():
        return {}
    variant = json.loads(path.read_text())["variants"][0]
    skip = {"variant", "method", "settings", "options", "swept", "note", "timing", "trained_on", "ms_per_image",
            "peak_mb"}
    return {key: value for key, value in variant.items() if key not in skip}


def table_rows(run_dir: Path, spec: SweepSpec, grid: list[Point]) -> list[dict]:
    rows = []
    reference = run_dir / REFERENCE
    if (reference / EVAL_DIR / EVAL_DONE).is_file():
        info = json.loads((reference / POINT_FILE).read_text()) if (reference / POINT_FILE).is_file() else {}
        rows.append({"point": f"reference: {info.get('decoder', 'init_decoder')}", **{k: "" for k in spec.parameters},
                     "steps": 0, **measures(reference / EVAL_DIR)})
    for point in grid:
        folder = run_dir / point.slug
        row = {"point": point.slug, **point.values, **training_record(folder)}
        row["trained"] = (folder / DECODER_FILE).is_file()
        row.update(measures(folder / EVAL_DIR))
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "–"
    return "–" if value in ("", None) else str(value)


def _markdown_table(rows: list[dict], columns: list[str], headers: dict[str, str], bold: dict[str, str]) -> list[str]:
    """A Markdown table; a column in `bold` ("lower"/"higher") marks its best value among the grid points."""
    best = {}
    for column, better in bold.items():
        values = [r[column] for r in rows if isinstance(r.get(column), float) and not r["point"].startswith("reference")]
        if len(values) > 1:
            best[column] = min(values) if better == "lower" else max(values)
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---" if c == "point" else "---:" for c in columns) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            text = _fmt(row.get(column))
            if column in best and row.get(column) == best[column] and not row["point"].startswith("reference"):
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_tables(run_dir: Path, spec: SweepSpec, grid: list[Point], header: dict) -> list[dict]:
    """RUN_DIR/sweep.csv, sweep.md and sweep.png from what is on disk; returns the rows."""
    from adain.core.io import save_image
    from adain.evaluation.leaderboard import ALL_INFO, ARROW
    from adain.evaluation.report import write_csv

    rows = table_rows(run_dir, spec, grid)
    write_csv(rows, run_dir / "sweep.csv")
    params = list(spec.parameters)
    losses = [f"train_{name}" for name in LOSS_COLUMNS if any(f"train_{name}" in r for r in rows)]
    train_columns = ["point", *params, "steps", *losses, *(["val_score"] if any("val_score" in r for r in rows) else [])]
    shown = [m for m in TABLE_MEASURES if any(m in r for r in rows)]
    headers = {m: f"{m} {ARROW[ALL_INFO[m][0]]}" for m in shown}
    headers.update({f"train_{n}": n for n in LOSS_COLUMNS})
    lines = ["# Training sweep", "",
             f"Sweep file `{header['sweep_file']}` (base `{header['base_config']}`, fixed "
             f"{', '.join(f'`{f}`' for f in header['fixed']) or 'none'}; command line "
             f"{', '.join(f'`{f}`' for f in header['overrides']) or 'none'}).", "",
             "Command:", "", "```", header["command"], "```", "",
             "## Training", "",
             "Losses: the mean of the logged values in the last quarter of the point's steps (its last "
             "stage); `val_score`: the run's own last validation score (the training objective's yardstick).", ""]
    lines += _markdown_table(rows, train_columns, headers, {})
    pairs_note = header.get("pairs_note", "")
    lines += ["", "## Independent measures", "",
              f"Means over {pairs_note}; ↓ lower is better, ↑ higher; the best grid point per column in bold. "
              "Every column's definition: docs/evaluation.md; `sweep.csv` has every measure the harness computed.", ""]
    lines += _markdown_table(rows, ["point", *params, *shown], headers, {m: ALL_INFO[m][0] for m in shown})
    lines += ["", "![sweep](sweep.png)", ""]
    tmp = run_dir / f".sweep.md.{os.getpid()}.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, run_dir / "sweep.md")
    save_image(sweep_plot(rows, params), run_dir / "sweep.png")
    return rows


def sweep_plot(rows: list[dict], params: list[str]):
    """EfficientNet content vs style distance, one labelled point per grid point; points sharing
    the first swept parameter's value are one series (the reference is its own)."""
    from adain.evaluation.plot import tradeoff_plot
    from adain.evaluation.sweep import short

    swept = [p for p in params if len({_fmt(r.get(p)) for r in rows if not r["point"].startswith("reference")}) > 1]
    series: dict[str, list] = {}
    for row in rows:
        if "effnet_content" not in row or "effnet_style_mean_std" not in row:
            continue
        if row["point"].startswith("reference"):
            name, label = "reference (no training)", "start"
        else:
            first, others = (swept[0], swept[1:]) if swept else (None, [])
            name = f"{first.rsplit('.', 1)[-1]}={short(row[first])}" if first else "points"
            label = ",".join(f"{p.rsplit('.', 1)[-1]}={short(row[p])}" for p in others)
        series.setdefault(name, []).append((row["effnet_content"], row["effnet_style_mean_std"], label))
    return tradeoff_plot(_merge_close_labels(series), "EfficientNet content distance (lower: layout kept)",
                         "EfficientNet style distance (mean/std); lower-left is better", "")


def _merge_close_labels(series: dict[str, list], within: float = 0.03) -> dict[str, list]:
    """Points of one series closer than `within` of the axes' spans share one label ("a / b"),
    which the plot would otherwise print over each other."""
    points = [(x, y) for values in series.values() for x, y, _ in values if math.isfinite(x) and math.isfinite(y)]
    if len(points) < 2:
        return series
    span_x = (max(p[0] for p in points) - min(p[0] for p in points)) or 1.0
    span_y = (max(p[1] for p in points) - min(p[1] for p in points)) or 1.0
    merged = {}
    for name, values in series.items():
        out: list[list] = []
        for x, y, label in values:
            near = next((o for o in out if abs(o[0] - x) < within * span_x and abs(o[1] - y) < within * span_y), None)
            if near is not None and label:
                near[2] = f"{near[2]} / {label}" if near[2] else label
                out.append([x, y, ""])
            else:
                out.append([x, y, label])
        merged[name] = [tuple(v) for v in out]
    return merged


# --- the whole sweep ------------------------------------------------------------------------------

def run_sweep(sweep_file: str | Path, run_dir: str | Path, overrides: Sequence[str] = (), pairs: int = 8,
              size: int = 256, threads: int = 0, command: str | None = None, log=None) -> list[dict]:
    """Train and evaluate every point of the grid not done yet, writing the tables after each;
    returns the table rows.  Everything is checked before the first point trains."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    spec, extra = split_overrides(load_sweep(sweep_file), overrides)
    check_keys(spec)
    if spec.base_config is not None and not Path(spec.base_config).is_file():
        raise UserError(f"{spec.path}: command: base config {spec.base_config} not found (run from the repository root)")
    if size < 16:
        raise UserError(f"--size {size}: expected at least 16")
    pair_layout(pairs)
    run_dir = Path(run_dir)
    grid = points(spec)
    configs = {point.slug: point_config(spec, point, extra, run_dir / point.slug) for point in grid}
    for cfg in configs.values():  # the staged recipe's own checks (each stage's overrides)
        if cfg.method != "adain":
            raise UserError(f"method {cfg.method!r}: the sweep scores AdaIN decoders; expected method adain")
        if cfg.stages:
            from adain.train.stages import stage_configs

            stage_configs(cfg)
    for point in grid:  # a folder of another experiment is refused before anything trains
        _check_claim(run_dir / point.slug, configs[point.slug])
    first = next(iter(configs.values()))
    from adain.train.data import list_images

    contents, styles = pair_layout(pairs)
    have = (len(list_images(first.data.val_content)), len(list_images(first.data.val_style)))
    if have[0] < contents or have[1] < styles:
        raise UserError(f"--pairs {pairs}: {contents} val contents × {styles} val styles needed; "
                        f"{first.data.val_content} has {have[0]}, {first.data.val_style} has {have[1]}")

    run_dir.mkdir(parents=True, exist_ok=True)
    header = {"sweep_file": str(spec.path), "base_config": spec.base_config, "fixed": spec.fixed,
              "overrides": list(overrides), "command": command or _command_line(),
              "pairs_note": f"{pairs} pairs (the first {contents} of `{first.data.val_content}` × the first "
                            f"{styles} of `{first.data.val_style}`), content centre square at {size}², style "
                            f"shorter side {size}"}
    from adain.evaluation.cache import write_json_atomic

    write_json_atomic(run_dir / "sweep.json", {**header, "parameters": spec.parameters,
                                                "points": [p.slug for p in grid]})
    cache = run_dir / "eval_cache"
    try:
        if first.init_decoder and Path(first.init_decoder).is_file():
            _reference(first, run_dir / REFERENCE, cache, pairs, size, threads, log)
            write_tables(run_dir, spec, grid, header)
        for point in grid:
            folder = run_dir / point.slug
            cfg = configs[point.slug]
            tag = f"sweep: [{point.index + 1}/{len(grid)}] {point.slug}"
            ecfg = eval_config(cfg, folder / DECODER_FILE, point.slug, folder / EVAL_DIR, cache, pairs, size, threads)
            if (folder / DECODER_FILE).is_file() and evaluated(folder / EVAL_DIR, ecfg):
                log(f"{tag}: trained and evaluated already; skipped")
                continue
            folder.mkdir(parents=True, exist_ok=True)
            _claim(folder, point, cfg)
            if (folder / DECODER_FILE).is_file():
                log(f"{tag}: trained already")
            else:
                log(f"{tag}: training {' '.join(point.overrides)}")
                if train_point(cfg, folder, log) is None:
                    log(f"{tag}: stopped before its last step (time limit); run the same command again to continue")
                    return write_tables(run_dir, spec, grid, header)
            log(f"{tag}: evaluating on {pairs} val pairs at {size}²")
            evaluate(ecfg, log=lambda message: None)
            write_tables(run_dir, spec, grid, header)
            log(f"{tag}: done")
    finally:  # interrupted or failed: the table still shows every finished point
        rows = write_tables(run_dir, spec, grid, header)
    log(f"sweep: {run_dir / 'sweep.md'}")
    return rows


def _reference(cfg, folder: Path, cache: Path, pairs: int, size: int, threads: int, log) -> None:
    """Score the warm start's decoder on the same pairs (the grid's starting point)."""
    from adain.evaluation.cache import write_json_atomic

    decoder = Path(cfg.init_decoder)
    ecfg = eval_config(cfg, decoder, f"reference-{decoder.stem}", folder / EVAL_DIR, cache, pairs, size, threads)
    if evaluated(folder / EVAL_DIR, ecfg):
        return
    log(f"sweep: evaluating the warm start {decoder} (reference row)")
    write_json_atomic(folder / POINT_FILE, {"decoder": decoder.stem, "path": str(decoder)})
    evaluate(ecfg, log=lambda message: None)


def _command_line() -> str:
    import shlex

    name = Path(sys.argv[0]).name if sys.argv else "adain"
    args = [("adain" if name in ("adain", "__main__.py", "-c") else sys.argv[0]), *sys.argv[1:]]
    return " ".join(shlex.quote(a) for a in args)


def run_sweep_command(args) -> int:
    """`adain sweep`'s entry point (adain.cli.main)."""
    rows = run_sweep(args.config, args.run_dir, args.overrides, pairs=args.pairs, size=args.size,
                     threads=args.threads)
    unfinished = [r["point"] for r in rows if not r["point"].startswith("reference") and "effnet_content" not in r
                  and "rel_content" not in r]
    if unfinished:
        print(f"adain: sweep: {len(unfinished)} point(s) not finished yet ({', '.join(unfinished)}); "
              f"run the same command again", file=sys.stderr)
    return 0


def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open() as handle:
        return list(csv.DictReader(handle))
