"""A sheet of stylised outputs only, one row per pair, one column per method, from an eval.py run.

The pack's own images (the contents and styles) stay out of the repository, so the committed sheet
shows outputs side by side; the harness's full contact sheet (content | style | methods) is
`<run_dir>/contact_sheet.jpg`, made by the same eval.py command.

    .venv/bin/python experiments/cpu_bilinear_colour/outputs_sheet.py runs/eval/cpu_bilinear_colour_b \
        --methods shippednearest bilinearcolourterm magenta --out sheet.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adain.io import open_image, pil_to_tensor, save_image  # noqa: E402
from adain.training import image_grid  # noqa: E402


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--methods", nargs="+", required=True, help="folder names under <run_dir>/outputs, in column order")
    parser.add_argument("--pairs", type=int, default=0, help="first N pairs (0: all)")
    parser.add_argument("--size", type=int, default=256, help="side of each cell")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    folders = [args.run_dir / "outputs" / name for name in args.methods]
    for folder in folders:
        if not folder.is_dir():
            print(f"{folder}: no such method folder; expected one of "
                  f"{', '.join(p.name for p in (args.run_dir / 'outputs').iterdir())}", file=sys.stderr)
            sys.exit(2)
    names = sorted(p.name for p in folders[0].glob("*.png"))
    names = names[: args.pairs] if args.pairs else names
    rows = [torch.cat([pil_to_tensor(open_image(folder / name)) for folder in folders]) for name in names]
    save_image(image_grid(rows, size=args.size), args.out, quality=90)
    print(f"{args.out}: {len(rows)} pairs × {len(folders)} methods ({', '.join(args.methods)}); rows:")
    for name in names:
        print("  ", name[:-4].replace("__", " × "))


if __name__ == "__main__":
    main(sys.argv[1:])
