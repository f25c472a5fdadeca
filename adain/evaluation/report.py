"""Everything a finished evaluation writes: in the run dir metrics.csv, summary.json, config.yaml,
grids/*.png (content | style | each variant, thumbnails), contact_sheet.jpg (the same for 16
pairs spread over the contents and styles, at full size), tradeoff.png, report.md (leading with
every variant on every measure, leaderboard.py); and to W&B (offline by default) the config, one table row per
(variant, pair) with images and metrics, per-variant summary metrics, the reconstruction table,
the contact sheet and the trade-off plot."""

from __future__ import annotations

import csv
import os
import shlex
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from adain.core.io import load_image, save_image, tensor_to_pil
from adain.evaluation.cache import write_json_atomic
from adain.evaluation.identity import IDENTITY_INFO
from adain.evaluation.leaderboard import ALL_INFO, leading_table, measures_table
from adain.evaluation.plot import tradeoff_plot
from adain.evaluation.scoring import METRIC_INFO
from adain.evaluation.sweep import short

def command_line() -> str:
    """The command that started this process, as a user would type it."""
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0].endswith("eval.py") else sys.argv[0], *sys.argv[1:]]
    return "python " + " ".join(shlex.quote(a) for a in args)


def write_csv(rows: list[dict], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _square(image: torch.Tensor, tile: int) -> torch.Tensor:
    """(1, 3, H, W) → (1, 3, tile, tile): centre square, resized."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[..., top: top + side, left: left + side].float()
    return F.interpolate(crop, size=(tile, tile), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def write_grids(evaluation, results, tile: int, rows_per_file: int) -> list[Path]:
    """grids/grid_NNN.png: one row per pair (content | style | every variant), a header of labels.
    A variant that did not run on a pair (a Johnson network and another style) leaves a grey tile."""
    run_dir = evaluation.run_dir
    variants = [r.variant for r in results if r.rows]
    outputs = {(r.variant.label, row["content"], row["style"]): run_dir / row["output"] for r in results for row in r.rows}
    pairs = list(dict.fromkeys((row["content"], row["style"]) for r in results for row in r.rows))
    sources = {(row["content"], row["style"]): row for r in results for row in r.rows}
    header, font = 14, ImageFont.load_default()
    files = []
    for start in range(0, len(pairs), rows_per_file):
        chunk = pairs[start: start + rows_per_file]
        columns = ["content", "style", *[v.label for v in variants]]
        sheet = Image.new("RGB", (tile * len(columns), header + tile * len(chunk)), (230, 230, 230))
        draw = ImageDraw.Draw(sheet)
        for col, name in enumerate(columns):
            draw.text((col * tile + 3, 1), name[: tile // 6], fill="black", font=font)
        for line, pair in enumerate(chunk):
            row = sources[pair]
            tiles = [_square(evaluation.images.content(Path(row["content_path"]), row["size"]), tile),
                     _square(evaluation.images.style(Path(row["style_path"]), row["style_size"]), tile)]
            tiles += [_square(load_image(outputs[(v.label, *pair)]), tile) if (v.label, *pair) in outputs else None
                      for v in variants]
            for col, image in enumerate(tiles):
                if image is not None:
                    sheet.paste(tensor_to_pil(image), (col * tile, header + line * tile))
        path = run_dir / "grids" / f"grid_{start // rows_per_file:03d}.png"
        save_image(sheet, path)
        files.append(path)
    return files


def spread_pairs(pairs: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """`count` of the (content, style) pairs, every content in turn and each time its next style
    from a different starting point (content i's j-th pick is its style (i + j) mod n): 8
    contents × 6 styles give 16 pairs with every content twice and every style, not the first
    content with all its styles, then the second's."""
    by_content: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        by_content.setdefault(pair[0], []).append(pair)
    groups = list(by_content.values())
    chosen = []
    for round_ in range(max((len(g) for g in groups), default=0)):
        for index, group in enumerate(groups):
            if round_ < len(group) and len(chosen) < count:
                chosen.append(group[(index + round_) % len(group)])
    return chosen


def write_contact_sheet(evaluation, results, pairs: int = 16, quality: int = 90) -> Path | None:
    """contact_sheet.jpg: content | style | every variant for `pairs` pairs spread over the
    contents and styles (`spread_pairs`), every tile at the output's own size (no thumbnails:
    artefacts a few pixels wide stay visible).
    The style tile is its centre square at the protocol style size, resized to the tile."""
    run_dir = evaluation.run_dir
    variants = [r.variant for r in results if r.rows]
    outputs = {(r.variant.label, row["content"], row["style"]): run_dir / row["output"] for r in results for row in r.rows}
    sources = {(row["content"], row["style"]): row for r in results for row in r.rows}
    chosen = spread_pairs(list(sources), pairs)
    if not chosen:
        return None
    tile = max(row["size"] for row in sources.values())
    header, font = 16, ImageFont.load_default()
    columns = ["content", "style", *[v.label for v in variants]]
    sheet = Image.new("RGB", (tile * len(columns), header + tile * len(chosen)), (230, 230, 230))
    draw = ImageDraw.Draw(sheet)
    for col, name in enumerate(columns):
        draw.text((col * tile + 3, 2), name[: tile // 6], fill="black", font=font)
    for line, pair in enumerate(chosen):
        row = sources[pair]
        tiles = [evaluation.images.content(Path(row["content_path"]), row["size"]),
                 _square(evaluation.images.style(Path(row["style_path"]), row["style_size"]), row["size"])]
        tiles += [load_image(outputs[(v.label, *pair)]) if (v.label, *pair) in outputs else None for v in variants]
        for col, image in enumerate(tiles):
            if image is not None:
                sheet.paste(tensor_to_pil(image), (col * tile, header + line * tile))
    return save_image(sheet, run_dir / "contact_sheet.jpg", quality=quality)


def tradeoff_series(summaries: list[dict], results) -> dict[str, list[tuple[float, float, str]]]:
    """Per method entry: (rel_content, rel_style, swept values) of each variant."""
    series: dict[str, list] = {}
    for summary, result in zip(summaries, results):
        if "rel_content" not in summary:
            continue
        name = f"{result.variant.entry_index}: {result.variant.name}"
        label = ",".join(f"{k}={short(v)}" for k, v in {**summary["options"], **summary["swept"]}.items())
        series.setdefault(name, []).append((summary["rel_content"], summary["rel_style"], label))
    return series



def markdown_report(cfg: dict, summaries: list[dict], notes: list[str], errors: list[str], command: str,
                    grids: list[Path], run_dir: Path, reconstruction: list[dict] | None = None,
                    contact_sheet: Path | None = None) -> str:
    lines = ["# Evaluation report", "",
             f"Every method variant on every measure (means over its pairs; content centre square "
             f"{cfg['size']}², style shorter side {cfg['style_size'] or cfg['size']}).", ""]
    lines += leading_table(summaries)
    lines += ["", "Command:", "", "```", command, "```", "",
              f"Protocol: content centre square crop resized to {cfg['size']}², style shorter side "
              f"{cfg['style_size'] or cfg['size']}; contents `{cfg['content']}`, styles `{cfg['style']}`; seed {cfg['seed']}.",
              "", "## Measures", ""]
    lines += measures_table(summaries)
    lines += ["", "design.md's two numbers (`rel_content`, `rel_style`) and the other `(vgg16-hed)` columns are "
              "measured on `vgg16-hed`; `edge_f` uses HED, whose backbone is the same network.",
              "", "Speed: " + "; ".join(f"{s['variant']}: {s['timing']}" for s in summaries if "timing" in s), ""]
    if reconstruction:
        lines += ["## Reconstruction fidelity (one row per decoder)", "",
                  "| decoder | encoder | size | contents | PSNR dB ↑ | SSIM ↑ | outputs |", "|---|---|---|---|---:|---:|---|"]
        lines += [f"| {r['decoder']} | {r['encoder'] or '?'} | {r['size']}² | {r['contents']} | {r['recon_psnr']:.2f} | "
                  f"{r['recon_ssim']:.3f} | `{r['outputs']}` |" for r in reconstruction]
        lines += [""]
    lines += ["## Files", "", "- `metrics.csv`: one row per (variant, pair)", "- `summary.json`: the means above",
              "- `tradeoff.png`: relative style vs relative content loss per variant",
              *([f"- `{contact_sheet.relative_to(run_dir)}`: content | style | each variant, 16 pairs spread over the contents and styles, full size"]
                if contact_sheet else []),
              *[f"- `{g.relative_to(run_dir)}`: content | style | each variant (thumbnails)" for g in grids],
              "- `outputs/<variant>/<content>__<style>.png`: every stylised image",
              *(["- `reconstruction/<decoder>/<content>.png`: decode(encode(content))"] if reconstruction else []), ""]
    lines += ["## Notes", ""] + ([f"- {n}" for n in notes] or ["- none"])
    skipped = [f"- {s['variant']}: {s['note']}" for s in summaries if s.get("note")]
    lines += ["", "## Skipped variants and errors", ""] + (skipped + [f"- error: {e}" for e in errors] or ["- none"])
    lines += ["", "![trade-off](tradeoff.png)", ""]
    if contact_sheet:
        lines += [f"![contact sheet]({contact_sheet.relative_to(run_dir)})", ""]
    return "\n".join(lines) + "\n"


def write_all(evaluation, cfg: dict, results, summaries: list[dict], command: str | None = None,
              reconstruction: list[dict] | None = None) -> dict:
    """Write every local file and log to W&B; returns the summary dict written to summary.json."""
    from omegaconf import OmegaConf

    run_dir = evaluation.run_dir
    command = command or command_line()
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    rows = [row for r in results for row in r.rows]
    write_csv(rows, run_dir / "metrics.csv")
    summary = {"command": command, "variants": summaries, "reconstruction": reconstruction or [],
               **overall_means(rows), "notes": evaluation.notes, "errors": evaluation.errors,
               "metrics": {k: {"better": b, "what": w} for k, (b, w) in ALL_INFO.items()}}
    write_json_atomic(run_dir / "summary.json", summary)
    grids = write_grids(evaluation, results, cfg["grid_tile"], cfg["grid_rows"])
    contact_sheet = write_contact_sheet(evaluation, results)
    series = tradeoff_series(summaries, results)
    plot = tradeoff_plot(series, "relative content loss (vgg16-hed relu4_1)", "relative style loss (relu1_1-4_1)",
                         "content-style trade-off (lower-left is better)")
    save_image(plot, run_dir / "tradeoff.png")
    (run_dir / "report.md").write_text(markdown_report(cfg, summaries, evaluation.notes, evaluation.errors,
                                                       command, grids, run_dir, reconstruction, contact_sheet))
    log_wandb(cfg, run_dir, rows, summaries, series, grids, reconstruction or [], contact_sheet)
    return summary


def overall_means(rows: list[dict]) -> dict[str, float]:
    """Means over every row of every variant, under fixed names (overall/<metric>) that a W&B
    sweep can optimise whatever the variant labels; overall/score = rel_content + rel_style."""
    means = {f"overall/{m}": sum(r[m] for r in rows) / len(rows) for m in METRIC_INFO if rows and m in rows[0]}
    if "overall/rel_content" in means:
        means["overall/score"] = means["overall/rel_content"] + means["overall/rel_style"]
    return means


def log_wandb(cfg: dict, run_dir: Path, rows: list[dict], summaries: list[dict], series, grids,
              reconstruction: list[dict] = (), contact_sheet: Path | None = None) -> None:
    """Config, a per-(variant, pair) table with images, summary metrics, the reconstruction table,
    the contact sheet, the trade-off plot."""
    from adain.train.tracking import Tracker

    w = cfg["wandb"]
    tracker = Tracker(run_dir, cfg, mode=w["mode"], project=w["project"], entity=w["entity"], name=w["name"],
                      tags=w["tags"])
    if tracker.run is None:
        return
    import wandb

    measured = [m for m in (*METRIC_INFO, *IDENTITY_INFO) if rows and m in rows[0]]
    columns = ["variant", "method", "content", "style", "output_image", *measured, "stylize_ms", "peak_mb"]
    table = wandb.Table(columns=columns)
    for row in rows:
        table.add_data(row["variant"], row["method"], row["content"], row["style"],
                       wandb.Image(str(run_dir / row["output"])), *[row.get(c) for c in columns[5:]])
    points = wandb.Table(columns=["series", "variant", "rel_content", "rel_style"],
                         data=[[name, label, x, y] for name, values in series.items() for x, y, label in values])
    recon_columns = ["decoder", "encoder", "size", "contents", "recon_psnr", "recon_ssim"]
    extra = {"reconstruction": wandb.Table(columns=recon_columns, data=[[r[c] for c in recon_columns] for r in reconstruction])}
    if contact_sheet is not None:
        extra["contact_sheet"] = wandb.Image(str(contact_sheet))
    tracker.run.log({
        **extra,
        "pairs": table,
        "tradeoff": wandb.plot.scatter(points, "rel_content", "rel_style", title="content-style trade-off"),
        "tradeoff_png": wandb.Image(str(run_dir / "tradeoff.png")),
        "grids": [wandb.Image(str(g)) for g in grids],
    })
    tracker.summary({f"{s['variant']}/{k}": v for s in summaries for k, v in s.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)})
    tracker.summary(overall_means(rows))
    tracker.finish()
