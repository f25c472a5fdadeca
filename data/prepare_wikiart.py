"""Download WikiArt (style images of the AdaIN paper; the ArtGAN release) and write manifests.

    python data/prepare_wikiart.py --root datasets [--limit N]
"""

import argparse
from pathlib import Path

from _common import download, extract, images_under, write_split

URL = "https://archive.org/download/wikiart-dataset/wikiart.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("datasets"))
    parser.add_argument("--url", default=URL)
    parser.add_argument("--limit", type=int, default=0, help="keep only the first N images in the manifests")
    args = parser.parse_args()
    wikiart = args.root / "wikiart"
    if not wikiart.is_dir() or not images_under(wikiart):
        extract(download(args.url, args.root / "downloads" / "wikiart.zip"), args.root)
    files = images_under(wikiart)
    files = files[: args.limit] if args.limit else files
    train, val = write_split(wikiart, files, "style")
    print(f"{len(files)} artworks; manifests {train} and {val}")


if __name__ == "__main__":
    main()
