"""Download MS-COCO train2014 (content photos of the AdaIN paper) and write manifests.

    python data/prepare_coco.py --root datasets [--limit N]
"""

import argparse
from pathlib import Path

from _common import download, extract, images_under, write_split

URL = "http://images.cocodataset.org/zips/train2014.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("datasets"))
    parser.add_argument("--url", default=URL)
    parser.add_argument("--limit", type=int, default=0, help="keep only the first N images in the manifests")
    args = parser.parse_args()
    coco = args.root / "coco"
    if not (coco / "train2014").is_dir():
        extract(download(args.url, args.root / "downloads" / "train2014.zip"), coco)
    files = images_under(coco / "train2014")
    files = files[: args.limit] if args.limit else files
    train, val = write_split(coco, files, "content")
    print(f"{len(files)} photos; manifests {train} and {val}")


if __name__ == "__main__":
    main()
