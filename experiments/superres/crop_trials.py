"""Blind forced choice on 1:1 crops of compare.py's 4K or 8K outputs: two runs side by side.

    .venv/bin/python experiments/superres/crop_trials.py prepare "--upscale 4" "full (tiled)" OUT \
        [--resolution 4k|8k] [--work /tmp/adain-superres] [--crops 2] [--seed 0]
    # a judge opens OUT/trials/*.png in order, writes L, R or = into OUT/answers.csv
    .venv/bin/python experiments/eval/forced_choice.py score OUT

Each trial: the content's crop | the whole style | LEFT | RIGHT, every crop 640×640 px of the
4K or 8K image at 1:1 (what a person sees on a screen of that size), sides drawn at random; `--crops` crops per
pair, at seeded random places. key.json is in the format experiments/eval/forced_choice.py scores.
"""

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from compare import DATA, RUNS  # noqa: E402

CROP = 640


def output_suffix(resolution: str) -> str:
    """What compare.py appends to an output's name at this resolution."""
    return "" if resolution == "4k" else f"_{resolution}"


def pairs_in(work: Path, resolution: str) -> list[tuple[Path, Path]]:
    """(enlarged content, style) of every pair compare.py finished at `resolution`, from its output names."""
    styles = {path.stem: path for path in (DATA / "style" / "val").glob("*.jpg")}
    found = []
    for first in sorted(work.glob(f"*__*__0{output_suffix(resolution)}.jpg")):
        content_stem, style_stem, _ = first.stem.removesuffix(output_suffix(resolution)).split("__")
        content = work / f"{content_stem}_{resolution}.jpg"
        if content.is_file() and style_stem in styles:
            found.append((content, styles[style_stem]))
    return found


def prepare(a: str, b: str, out: Path, work: Path, crops: int, seed: int, resolution: str = "4k") -> None:
    labels = list(RUNS)
    rng = random.Random(seed)
    trials, font = [], ImageFont.load_default()
    jobs = [(content, style, k) for content, style in pairs_in(work, resolution) for k in range(crops)]
    rng.shuffle(jobs)
    for index, (content, style, _) in enumerate(jobs):
        stem = f"{content.stem.removesuffix('_' + resolution)}__{style.stem}"
        outputs = {label: work / f"{stem}__{labels.index(label)}{output_suffix(resolution)}.jpg" for label in (a, b)}
        if not all(path.is_file() for path in outputs.values()):
            continue
        photo = Image.open(content).convert("RGB")
        left_x, top_y = rng.randrange(0, photo.width - CROP), rng.randrange(0, photo.height - CROP)
        box = (left_x, top_y, left_x + CROP, top_y + CROP)
        a_left = rng.random() < 0.5
        left, right = (a, b) if a_left else (b, a)
        painting = Image.open(style).convert("RGB")
        painting.thumbnail((CROP, CROP))
        panels = [photo.crop(box), painting, Image.open(outputs[left]).convert("RGB").crop(box),
                  Image.open(outputs[right]).convert("RGB").crop(box)]
        sheet = Image.new("RGB", (4 * CROP, CROP + 16), "white")
        draw = ImageDraw.Draw(sheet)
        for col, (name, panel) in enumerate(zip(("content (crop)", "style", "LEFT", "RIGHT"), panels)):
            sheet.paste(panel, (col * CROP, 16))
            draw.text((col * CROP + 4, 2), name, fill="black", font=font)
        name = f"{len(trials) + 1:03d}"
        (out / "trials").mkdir(parents=True, exist_ok=True)
        sheet.save(out / "trials" / f"{name}.png")
        trials.append({"trial": name, "left": left, "right": right, "content": content.name, "style": style.name,
                       "box": box})
    (out / "key.json").write_text(json.dumps({"a": a, "b": b, "seed": seed, "work": str(work),
                                              "resolution": resolution, "trials": trials}, indent=1))
    with (out / "answers.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "choice"])
        writer.writerows([[t["trial"], ""] for t in trials])
    print(f"{len(trials)} trials in {out / 'trials'}; answers go in {out / 'answers.csv'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare")
    make.add_argument("a", choices=list(RUNS))
    make.add_argument("b", choices=list(RUNS))
    make.add_argument("out", type=Path)
    make.add_argument("--work", type=Path, default=Path("/tmp/adain-superres"))
    make.add_argument("--crops", type=int, default=2)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--resolution", choices=["4k", "8k"], default="4k")
    args = parser.parse_args()
    prepare(args.a, args.b, args.out, args.work, args.crops, args.seed, args.resolution)


if __name__ == "__main__":
    main()
