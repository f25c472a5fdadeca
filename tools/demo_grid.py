"""The README's picture: the built-in examples (scikit-image photos × the package's generated
styles) stylised with a decoder and stylize's defaults (at 384 px: supersampled ×2); columns
content | style 1 | output 1 | style 2 | output 2.

    .venv/bin/python tools/demo_grid.py --out docs/images/demo_grid.jpg
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adain import load  # noqa: E402
from adain.cli.examples import example_contents, example_styles  # noqa: E402
from adain.core.io import open_image, save_image  # noqa: E402
from adain.train.data import center_square  # noqa: E402
from adain.train.loop import image_grid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder", default=None, help="default: the shipped decoder")
    parser.add_argument("--size", type=int, default=384, help="working size (shorter side)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model = load(args.decoder)
    def square(path):  # centre square crops, so the grid does not squash anything
        return model.to_tensor(center_square(open_image(path), args.size))

    styles = [square(p) for p in example_styles()]
    rows = []
    for content_path in example_contents():
        content = square(content_path)
        row = [content]
        for style in styles:
            row += [style, model.stylize(content, style, content_size=0, style_size=0)]
        rows.append(torch.cat(row))
    save_image(image_grid(rows, size=256), args.out, quality=88)


if __name__ == "__main__":
    main()
