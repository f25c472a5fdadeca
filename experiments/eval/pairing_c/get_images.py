"""Pairing C's images (another pairing's with --csv): photos and public-domain paintings from
*outside* ../shared/data, so that quality is also judged on content and style images that nothing
was tuned on.

    .venv/bin/python experiments/eval/pairing_c/get_images.py [--from DIR] [--out runs/outside_images]
    .venv/bin/python experiments/eval/pairing_c/get_images.py --csv experiments/eval/pairing_d/images.csv \
        [--from DIR] --out runs/outside_images_d

Each image of `images.csv` (title, author, year, why it is free to use, the public GitHub
repository, path and commit it comes from, sha256) is downloaded from raw.githubusercontent.com at
that commit — or copied from DIR, a folder already holding `photos/` and `styles/` — and checked
against its sha256.  `--csv` names another pairing's list of the same columns (pairing D's, whose
contents.txt and styles.txt name runs/outside_images_d); without it, pairing C's.  The images stay
out of the repository (they land under runs/, which git ignores); contents.txt and styles.txt name
them there.  None of them is a copy of a pack image: each was compared by a perceptual hash with all
2,023 images of the pack (≥ 14 of 64 bits apart; copies are ≤ 12) and by name; pairing D's also with
pairing C's images (experiments/eval/pairing_d/README.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(row: dict, source: Path | None, target: Path, listing: str = "images.csv") -> None:
    """Copy or download one image to `target`, through a temporary file: nothing half-written."""
    partial = target.with_name(target.name + ".part")
    if source is not None:
        shutil.copyfile(source / row["file"], partial)
    else:
        url = f"https://raw.githubusercontent.com/{row['source_repo']}/{row['commit']}/{row['source_path']}"
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as handle:
            shutil.copyfileobj(response, handle)
    if sha256_of(partial) != row["sha256"]:
        partial.unlink()
        raise ValueError(f"{row['file']}: sha256 differs from {listing}")
    partial.replace(target)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a folder with photos/ and styles/ to copy from")
    parser.add_argument("--csv", type=Path, default=HERE / "images.csv",
                        help="the pairing's images.csv (default: pairing C's, beside this script)")
    parser.add_argument("--out", type=Path, help="default runs/outside_images (pairing C's); needed with --csv")
    args = parser.parse_args(argv)
    if args.out is None and args.csv.resolve() != (HERE / "images.csv").resolve():
        print(f"--csv {args.csv}: needs --out, the folder that pairing's contents.txt and styles.txt name",
              file=sys.stderr)
        return 2
    out = args.out or ROOT / "runs" / "outside_images"
    failed = 0
    try:
        with open(args.csv, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
    except OSError as error:
        print(f"{args.csv}: {error.strerror}; expected a pairing's images.csv", file=sys.stderr)
        return 2
    missing = [column for column in ("file", "sha256", "source_repo", "source_path", "commit")
               if column not in (reader.fieldnames or [])]
    if missing:
        print(f"{args.csv}: no column {missing[0]!r}; expected images.csv's columns", file=sys.stderr)
        return 2
    for row in rows:
        target = out / row["file"]
        if target.is_file() and sha256_of(target) == row["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fetch(row, args.source, target, args.csv.name)
        except FileNotFoundError:
            print(f"{args.source / row['file']}: not found; expected the image of {args.csv.name} there", file=sys.stderr)
            failed += 1
        except (urllib.error.URLError, OSError) as error:
            print(f"{row['file']}: download failed ({getattr(error, 'reason', error)}); expected network access "
                  f"to raw.githubusercontent.com, or pass --from DIR", file=sys.stderr)
            failed += 1
            if args.source is None and isinstance(error, urllib.error.URLError):
                failed = sum(not (out / r["file"]).is_file() for r in rows)
                break  # offline: the next downloads would fail alike
        except ValueError as error:
            print(error, file=sys.stderr)
            failed += 1
    print(f"{len(rows) - failed} of {len(rows)} images under {out}")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
