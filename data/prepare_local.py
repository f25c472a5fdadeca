"""Manifests for the local image pack (../shared/data), and optionally a downsized copy of it.

    python data/prepare_local.py                       # check the pack, print the config overrides
    python data/prepare_local.py --resize 512 --out /tmp/pack512
        # a copy with the shorter side at most 512 px (JPEG q90; keep it out of git).  For a GPU
        # machine, whose carry is limited to 64 MiB, tools/gpu/pack_carry.py makes a
        # 384-px copy cut to the central 288² (--crop 288) as WebP q80: 32.9 MB for 2,023 images
"""

import argparse
import csv
import sys
from pathlib import Path

from PIL import Image

from _common import fail

DEFAULT_PACK = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = ("content/train", "content/val", "style/train", "style/val")


def downsize(pack: Path, files: list[str], out: Path, size: int, quality: int, suffix: str, crop: int = 0) -> int:
    """Copy `files` (relative to `pack`) into `out` with the shorter side at most `size`, encoded
    by `suffix` (.jpg or .webp) at `quality`; a copy already there is kept.  With `crop`, keep only
    the central crop × crop square of the resized image: fewer bytes at the same scale (brush
    strokes and objects keep their size in pixels, which a smaller --resize would not).
    Returns the bytes."""
    total = 0
    for i, name in enumerate(files):
        target = (out / name).with_suffix(suffix)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(pack / name) as image:
                image = image.convert("RGB")
                scale = size / min(image.size)
                if scale < 1:
                    image = image.resize((round(image.width * scale), round(image.height * scale)),
                                         Image.Resampling.LANCZOS)
                if crop:  # centred; a side shorter than crop stays whole
                    width, height = min(image.width, crop), min(image.height, crop)
                    left, top = (image.width - width) // 2, (image.height - height) // 2
                    image = image.crop((left, top, left + width, top + height))
                image.save(target, quality=quality, **({"method": 6} if suffix == ".webp" else {}))
        total += target.stat().st_size
        if i % 100 == 0:
            print(f"{i}/{len(files)}", file=sys.stderr)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    parser.add_argument("--resize", type=int, default=0, help="shorter side of the copy (0: no copy)")
    parser.add_argument("--out", type=Path, help="folder of the downsized copy")
    parser.add_argument("--format", choices=("jpg", "webp"), default="jpg", help="encoding of the copy")
    parser.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality of the copy")
    parser.add_argument("--crop", type=int, default=0, help="keep the central CROP × CROP square (0: all)")
    args = parser.parse_args()
    manifest = args.pack / "MANIFEST.csv"
    if not manifest.is_file():
        fail(f"{manifest}: not found; expected the image pack with its MANIFEST.csv")
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [r["file"] for r in rows if not (args.pack / r["file"]).is_file()]
    if missing:
        fail(f"{args.pack}: {len(missing)} files of MANIFEST.csv are missing, e.g. {missing[0]}")
    root = args.pack
    if args.resize:
        if args.out is None:
            fail("--resize needs --out FOLDER")
        total = downsize(args.pack, [row["file"] for row in rows], args.out, args.resize, args.quality,
                         "." + args.format, args.crop)
        print(f"copy: {total / 1e6:.1f} MB in {args.out}")
        root = args.out
    for name in SETS:
        count = sum(1 for r in rows if r["file"].startswith(name + "/"))
        print(f"{name}: {count} images")
    print("overrides: " + " ".join(f"data.{key}={root / name}" for key, name in
                                    (("content", "content/train"), ("style", "style/train"),
                                     ("val_content", "content/val"), ("val_style", "style/val"))))


if __name__ == "__main__":
    main()
