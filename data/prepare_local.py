"""Manifests for the local image pack (../shared/data), and optionally a downsized copy of it.

    python data/prepare_local.py                       # check the pack, print the config overrides
    python data/prepare_local.py --resize 512 --out /tmp/pack512
        # a copy with the shorter side at most 512 px (JPEG q90): ~40 MB, small enough to carry
        # to a GPU machine with the working tree (keep it out of git: put it under an ignored path)
"""

import argparse
import csv
import sys
from pathlib import Path

from PIL import Image

from _common import fail

DEFAULT_PACK = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = ("content/train", "content/val", "style/train", "style/val")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    parser.add_argument("--resize", type=int, default=0, help="shorter side of the copy (0: no copy)")
    parser.add_argument("--out", type=Path, help="folder of the downsized copy")
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
        for i, row in enumerate(rows):
            target = args.out / row["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(args.pack / row["file"]) as image:
                image = image.convert("RGB")
                scale = args.resize / min(image.size)
                if scale < 1:
                    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
                image.save(target, quality=90)
            if i % 100 == 0:
                print(f"{i}/{len(rows)}", file=sys.stderr)
        root = args.out
    for name in SETS:
        count = sum(1 for r in rows if r["file"].startswith(name + "/"))
        print(f"{name}: {count} images")
    print("overrides: " + " ".join(f"data.{key}={root / name}" for key, name in
                                    (("content", "content/train"), ("style", "style/train"),
                                     ("val_content", "content/val"), ("val_style", "style/val"))))


if __name__ == "__main__":
    main()
