"""Helpers shared by the preparation scripts (not part of the adain package)."""

from __future__ import annotations

import os
import random
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def download(url: str, target: Path) -> Path:
    """Download to `target` through a temporary file; a failure leaves nothing behind."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, tmp.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot download {url} ({exc}); check the internet connection, or download it by hand to {target}")
    return target


def extract(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(folder)
    except zipfile.BadZipFile:
        fail(f"{archive}: not a complete zip archive; delete it and run again")


def write_split(root: Path, files: list[Path], prefix: str, val_fraction: float = 0.01, seed: int = 0) -> tuple[Path, Path]:
    """Seeded train/val manifests (paths relative to `root`)."""
    files = sorted(files)
    random.Random(seed).shuffle(files)
    n_val = max(25, round(len(files) * val_fraction)) if len(files) > 50 else max(1, len(files) // 10)
    val, train = files[:n_val], files[n_val:]
    paths = []
    for name, subset in (("train", train), ("val", val)):
        manifest = root / f"{prefix}_{name}.txt"
        manifest.write_text("".join(f"{f.relative_to(root)}\n" for f in sorted(subset)))
        paths.append(manifest)
    return paths[0], paths[1]


def images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def prepare_archive(doc: str, url: str, archive_name: str, extract_to: str, images_folder: str, prefix: str) -> None:
    """The command line shared by the download scripts: fetch, unpack, write seeded manifests.

    extract_to and images_folder are relative to --root; manifests go into images_folder's parent
    set by `prefix` (e.g. content_train.txt)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("datasets"))
    parser.add_argument("--url", default=url)
    parser.add_argument("--limit", type=int, default=0, help="keep only the first N images in the manifests")
    args = parser.parse_args()
    images = args.root / images_folder
    if not images.is_dir() or not images_under(images):
        extract(download(args.url, args.root / "downloads" / archive_name), args.root / extract_to)
    files = images_under(images)
    files = files[: args.limit] if args.limit else files
    manifest_root = args.root / Path(images_folder).parts[0]
    train, val = write_split(manifest_root, files, prefix)
    print(f"{len(files)} images; manifests {train} and {val}")
