"""Figures and numbers for stroke-size control and photo mode (experiments/stroke_photo/README.md).

    .venv/bin/python experiments/stroke_photo/figures.py [--size 384] [--part stroke|photo]

stroke_scales.jpg  style_scale 0.5 | 1 | 2 | 0.5+1+2 averaged, one row per style, with the
                   detail-layer frequency (adain.evaluation.stroke) of each output;
photo_mode.jpg     AdaIN | + photo mode | + photo mode, luminance only, one row per deep-photo-
                   styletransfer pair (a day photo restyled by a sunset / night photo).
                   Outputs only: the pack's own images stay out of the repository (each row's
                   first label names its content and style files);
results.json       the numbers: stroke frequency and size per scale; for photo mode SSIM on
                   luminance, HED edge F-score (adain.evaluation.edges),
                   gradient correlation (adain.evaluation.photo) against the content;
                   design.md's relative style loss and the colour distance (per-channel
                   Wasserstein-1, metrics.color_wasserstein) against the style photo.
Needs the shared image pack (../shared/data); the shipped decoder, CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw

import adain
from adain.core.io import load_image, tensor_to_pil
from adain.evaluation.metrics import color_wasserstein, ssim_luminance
from adain.evaluation.photo import gradient_correlation
from adain.evaluation.stroke import detail_frequency
from adain.nn.losses.distances import measure_relative_style
from adain.nn.pretrained import build_encoder

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data"
STROKE_CONTENT = DATA / "content" / "train" / "dpst_in15.jpg"
STROKE_STYLES = [DATA / "style" / "val" / "leon_Trippy.jpg", DATA / "style" / "val" / "gordic_vg_self.jpg"]
SCALES = [0.5, 1.0, 2.0]
PHOTO_PAIRS = [(13, "train"), (3, "train"), (14, "train")]  # dpst_in{i} restyled by dpst_tar{i}


def labelled(image: Image.Image, text: str) -> Image.Image:
    image = image.copy()
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 7 * len(text) + 6, 14), fill="black")
    draw.text((3, 1), text, fill="white")
    return image


def sheet(rows: list[list[Image.Image]], path: Path, height: int) -> None:
    rows = [[im.resize((round(im.width * height / im.height), height), Image.BICUBIC) for im in row] for row in rows]
    width = max(sum(im.width for im in row) for row in rows)
    out = Image.new("RGB", (width, height * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for im in row:
            out.paste(im, (x, r * height))
            x += im.width
    out.save(path, quality=85, optimize=True)


def find(name: str) -> Path:
    return next(DATA.glob(f"content/*/{name}.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384, help="content shorter side")
    parser.add_argument("--tile-height", type=int, default=192, help="row height in the figures")
    parser.add_argument("--part", choices=("all", "stroke", "photo"), default="all")
    args = parser.parse_args()
    model = adain.load(device="cpu")
    results: dict = {"size": args.size, "stroke": [], "photo": []}
    if args.part != "all" and (HERE / "results.json").is_file():  # keep the other part's numbers
        results = {**json.loads((HERE / "results.json").read_text()), "size": args.size, args.part: []}
    if args.part in ("all", "stroke"):
        stroke_figure(model, args, results)
    if args.part in ("all", "photo"):
        photo_figure(model, args, results)
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    for item in results["stroke"] + results["photo"]:
        print(item)


def stroke_figure(model, args, results: dict) -> None:

    content = load_image(STROKE_CONTENT, args.size)
    rows = []
    for style in STROKE_STYLES:
        row = []
        for scale in SCALES + [tuple(SCALES)]:
            out = model.stylize(content, style, content_size=0, style_size=args.size, style_scale=scale,
                                supersample=1)
            freq = float(detail_frequency(out))
            name = "+".join(f"{s:g}" for s in scale) if isinstance(scale, tuple) else f"{scale:g}"
            results["stroke"].append({"style": style.name, "scale": name, "detail_frequency": freq,
                                      "stroke_px": 1 / freq})
            prefix = f"{STROKE_CONTENT.stem} x {style.stem}  " if not row else ""
            row.append(labelled(tensor_to_pil(out), f"{prefix}S={name}  f={freq:.3f}"))
        rows.append(row)
    sheet(rows, HERE / "stroke_scales.jpg", args.tile_height)


def photo_figure(model, args, results: dict) -> None:
    from adain.evaluation.edges import edge_f_score, load_hed

    hed = load_hed()
    encoder = build_encoder("vgg16-hed")
    rows = []
    for index, _ in PHOTO_PAIRS:
        content = load_image(find(f"dpst_in{index}"), args.size)
        style_path = find(f"dpst_tar{index}")
        style = load_image(style_path, args.size)
        row = []
        content_edges = hed(content)
        for label, options in (("AdaIN", {}), ("AdaIN + photo", {"photo": True}),
                               ("+ photo, luminance", {"photo": True, "preserve_color": "luminance"})):
            out = model.stylize(content, style_path, content_size=0, style_size=args.size, supersample=1, **options)
            numbers = {"pair": f"in{index}→tar{index}", "run": label,
                       "ssim": float(ssim_luminance(out, content)),
                       "edge_f": float(edge_f_score(hed(out), content_edges)),
                       "gradient_correlation": float(gradient_correlation(out, content)),
                       "rel_style": float(measure_relative_style(encoder, out, style)),
                       "colour_w1_to_style": float(color_wasserstein(out, style))}
            results["photo"].append(numbers)
            row.append(labelled(tensor_to_pil(out), f"in{index} x tar{index}  {label}" if not row else label))
        rows.append(row)
    sheet(rows, HERE / "photo_mode.jpg", args.tile_height)


if __name__ == "__main__":
    main()
