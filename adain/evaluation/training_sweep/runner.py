"""Running the sweep: each point trained (or continued), exported and scored by the evaluation
harness, the claim on its folder that refuses another experiment's run, the reference row, and
`run_sweep` / `adain sweep` over the whole grid."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Sequence

from adain.core.errors import UserError
from adain.evaluation.training_sweep.spec import (DECODER_FILE, EVAL_DIR, EVAL_DONE, POINT_FILE, REFERENCE, Point,
                                                  check_keys, load_sweep, point_config, points, split_overrides)
from adain.evaluation.training_sweep.table import write_tables

# Config keys that may change between chunks of one point without making it another experiment.
VOLATILE = ("run_dir", "resume", "time_limit_min", "wandb", "device", "precision", "compile")


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

