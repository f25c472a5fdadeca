"""4K or 8K: the tiled full-resolution path vs `--upscale 2` / `--upscale 4` vs bicubic enlargement.

    nice .venv/bin/python experiments/superres/compare.py [--resolution 4k|8k] [--pairs 12] [--work /tmp/adain-superres]
    .venv/bin/python experiments/superres/compare.py --summary [--resolution 8k]   # the summary from the table alone

For each content × style pair (val contents and styles of the image pack, paired in sorted order)
the content is enlarged (Lanczos) and centre-cropped to 3840×2160 (4K) or 7680×4320 (8K), then
stylised five ways, each a
fresh process under /usr/bin/time (wall time, CPU time, peak RSS): `adain stylize --content-size 0` at the
defaults (tiled), the same with `--upscale 2` and `--upscale 4`, and bicubic.py with N = 2 and 4.
The runs of one pair follow each other, so load from other work on the machine hits them alike;
the full path, `--upscale 4` and bicubic ×4 run for every pair first, then `--upscale 2`, then
bicubic ×2, so that a run cut short still compares the cheap path with the full one on every pair
done.  A rerun resumes: rows already in the table are kept (delete it to start again).
Stroke size (adain.evaluation.stroke) is measured on every output.  Writes results.tsv and
summary.md for 4K, results_8k.tsv and summary_8k.md for 8K (one row a run; medians) beside this
file; images stay under --work.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = REPO.parent / "shared" / "data"
PYTHON = str(REPO / ".venv" / "bin" / "python")
SIZES = {"4k": (3840, 2160), "8k": (7680, 4320)}
TABLES = {"4k": ("results.tsv", "summary.md"), "8k": ("results_8k.tsv", "summary_8k.md")}
RUNS = {  # label → command after the python executable, given content, style and output
    "full (tiled)": lambda c, s, o: ["-m", "adain", "stylize", "--content", c, "--style", s, "--content-size", "0",
                                     "--output", o, "--overwrite", "--no-progress"],
    "--upscale 2": lambda c, s, o: RUNS["full (tiled)"](c, s, o) + ["--upscale", "2"],
    "--upscale 4": lambda c, s, o: RUNS["full (tiled)"](c, s, o) + ["--upscale", "4"],
    "bicubic ×2": lambda c, s, o: [str(HERE / "bicubic.py"), c, s, o, "2"],
    "bicubic ×4": lambda c, s, o: [str(HERE / "bicubic.py"), c, s, o, "4"],
}


def make_large(source: Path, target: Path, size: tuple[int, int]) -> None:
    """The photo enlarged (Lanczos) to cover `size` (width, height) and centre-cropped to it."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    scale = max(size[0] / image.width, size[1] / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
    image.crop((left, top, left + size[0], top + size[1])).save(target, quality=95)


def timed(command: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s (user + system), peak RSS KiB) of one fresh process."""
    proc = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", PYTHON, *command], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    line = [row for row in proc.stderr.splitlines() if row.startswith("TIME ")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stderr[-2000:]}")
    wall, user, system, peak = line[-1].split()[1:]
    return float(wall), float(user) + float(system), int(peak)


def stroke_px(path: Path) -> float:
    """adain.evaluation.stroke.stroke_size of a 4K or 8K image, with its Gaussian blur (the same mirrored,
    3σ-truncated separable kernel) done by FFT: torch's unfolded float64 convolution would need
    54 GB for σ = 135 px at 4K.  Equal to scipy.ndimage.gaussian_filter(mode="mirror") within 1e-15."""
    import math

    import numpy as np
    import torch
    from scipy.signal import fftconvolve

    from adain.evaluation.stroke import LUMA, radial_spectrum
    from adain.core.io import load_image

    image = load_image(path)[0].double()  # (3, H, W)
    luma = sum(weight * image[i] for i, weight in enumerate(LUMA)).numpy()
    sigma = min(luma.shape) / 16
    radius = int(math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(luma, radius, mode="reflect")  # torch's "reflect": the edge pixel not repeated
    blur = fftconvolve(fftconvolve(padded, taps[None, :], mode="valid", axes=1), taps[:, None], mode="valid", axes=0)
    frequencies, power = radial_spectrum(torch.from_numpy(luma - blur)[None, None])
    return float(1.0 / ((power * frequencies).sum(dim=1) / power.sum(dim=1))[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--work", type=Path, default=Path("/tmp/adain-superres"))
    parser.add_argument("--resolution", choices=sorted(SIZES), default="4k")
    parser.add_argument("--summary", action="store_true", help="only rewrite the summary from the table")
    args = parser.parse_args()
    table, summary = (HERE / name for name in TABLES[args.resolution])
    if args.summary:
        summarise(table, summary)
        return
    size = SIZES[args.resolution]
    args.work.mkdir(parents=True, exist_ok=True)
    contents = sorted((DATA / "content" / "val").glob("*.jpg"))[::3][: args.pairs]
    styles = sorted((DATA / "style" / "val").glob("*.jpg"))[: args.pairs]
    fields = ["content", "style", "run", "wall_s", "cpu_s", "peak_rss_mib", "stroke_px", "load_avg"]
    done = set()
    if table.exists():  # resume: keep the rows written already
        done = {(r["content"], r["style"], r["run"]) for r in csv.DictReader(open(table), delimiter="\t")}
    else:
        table.write_text("\t".join(fields) + "\n")
    pairs = list(zip(contents, styles))
    passes = [["full (tiled)", "--upscale 4", "bicubic ×4"], ["--upscale 2"], ["bicubic ×2"]]
    with open(table, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fields, delimiter="\t")
        for labels in passes:
            for content, style in pairs:
                big = args.work / f"{content.stem}_{args.resolution}.jpg"
                if not big.exists():
                    make_large(content, big, size)
                for label in labels:
                    if (content.name, style.name, label) in done:
                        continue
                    suffix = "" if args.resolution == "4k" else f"_{args.resolution}"
                    output = args.work / f"{content.stem}__{style.stem}__{list(RUNS).index(label)}{suffix}.jpg"
                    wall, cpu, peak_kib = timed(RUNS[label](str(big), str(style), str(output)))
                    row = dict(content=content.name, style=style.name, run=label, wall_s=f"{wall:.1f}",
                               cpu_s=f"{cpu:.1f}", peak_rss_mib=f"{peak_kib / 1024:.0f}",
                               stroke_px=f"{stroke_px(output):.2f}", load_avg=open("/proc/loadavg").read().split()[0])
                    writer.writerow(row)
                    handle.flush()
                    print("\t".join(row.values()), flush=True)
    summarise(table, summary)


def summarise(table: Path, target: Path) -> None:
    rows = list(csv.DictReader(open(table), delimiter="\t"))
    full = {(r["content"], r["style"]): r for r in rows if r["run"] == "full (tiled)"}
    lines = ["| run | pairs | median wall s | wall speed-up vs full (median) | median CPU s | CPU speed-up "
             "| max peak RSS MiB | median stroke px | median stroke ÷ full |", "|---|---|---|---|---|---|---|---|---|"]
    for label in RUNS:
        mine = [r for r in rows if r["run"] == label and (r["content"], r["style"]) in full]
        if not mine:
            continue
        full_of = [full[(r["content"], r["style"])] for r in mine]
        speed = [float(f["wall_s"]) / float(r["wall_s"]) for r, f in zip(mine, full_of)]
        cpu_speed = [float(f["cpu_s"]) / float(r["cpu_s"]) for r, f in zip(mine, full_of)]
        stroke = [float(r["stroke_px"]) / float(f["stroke_px"]) for r, f in zip(mine, full_of)]
        lines.append(f"| {label} | {len(mine)} | {statistics.median(float(r['wall_s']) for r in mine):.1f} "
                     f"| {statistics.median(speed):.2f}× | {statistics.median(float(r['cpu_s']) for r in mine):.1f} "
                     f"| {statistics.median(cpu_speed):.2f}× | {max(int(r['peak_rss_mib']) for r in mine)} "
                     f"| {statistics.median(float(r['stroke_px']) for r in mine):.2f} | {statistics.median(stroke):.2f} |")
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
