"""The sweep's tables and plot: each point's training record and evaluation means, read back from
its folder, as RUN_DIR/sweep.csv, sweep.md and sweep.png."""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

from adain.evaluation.training_sweep.spec import (DECODER_FILE, EVAL_DIR, EVAL_DONE, POINT_FILE, REFERENCE, Point,
                                                  SweepSpec)

# Columns of sweep.md's measures table (sweep.csv has every measure of the summary).
TABLE_MEASURES = ("effnet_content", "effnet_layout", "effnet_style_mean_std", "effnet_style_gram", "color_w1",
                  "rel_content", "rel_style", "frame", "grid", "stray_colour", "halo", "blotch", "muddiness",
                  "colour_leak")
LOSS_COLUMNS = ("loss", "loss_content", "loss_style", "loss_colour", "loss_sw", "loss_identity_feature",
                "loss_identity_pixel", "loss_structure")


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



def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open() as handle:
        return list(csv.DictReader(handle))
