"""Where a decoder's relative style loss comes from, and how far its content number is from what
AdaIN allows: per-layer relative style loss, the content floor of the AdaIN target, the cost of
clamping the output to [0, 1].

    .venv/bin/python experiments/cpu_decoder/diagnose.py adain/weights/decoder-vgg16-hed.safetensors magenta

Same pairs and sizes as evaluate.py (content/val[i] × style/val[(7i + offset) mod 25], content
centre square 384², style shorter side 384, α = 1).  For each model: the mean relative style loss
per layer (relu1_1…relu4_1; their sum is design.md's number) of the delivered (clamped) output,
and for decoders also the relative content/style loss of the unclamped output.  Once for the
pairs: the content floor ‖relu(t) − φ₄(c)‖² / ‖φ₄(c)‖², the relative content loss a decoder that
reproduced the AdaIN target t exactly would have (relu: relu4_1 features are never negative).
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain import functional as AF  # noqa: E402
from adain.api import load  # noqa: E402
from adain.data import list_images  # noqa: E402
from adain.encoders import CONTENT_TAP, STYLE_TAPS, build_encoder  # noqa: E402
from adain.evaluation.magenta import load_magenta  # noqa: E402
from adain.losses import relative_style_stats_loss  # noqa: E402
from adain.evaluation.metrics import measure_relative_content, measure_relative_style, relative_content  # noqa: E402
from adain.training import ValidationSet  # noqa: E402


def per_layer_style(scorer, output: torch.Tensor, style_stats: dict) -> dict[str, float]:
    """{tap: relative style loss of that layer alone} for one (1, 3, H, W) output."""
    feats = scorer(output.float(), taps=STYLE_TAPS)
    return {tap: relative_style_stats_loss(feats, style_stats, taps=(tap,)).item() for tap in STYLE_TAPS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="decoder files (.safetensors, training .pt) or `magenta`")
    parser.add_argument("--pack", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--style-offset", type=int, default=0)
    args = parser.parse_args()

    scorer = build_encoder("vgg16-hed")
    pairs = ValidationSet(list_images(args.pack / "content" / "val"), list_images(args.pack / "style" / "val"),
                          args.pairs, args.size, args.style_offset)
    models = {name: load_magenta() if name == "magenta" else load(name) for name in args.models}
    layers = {name: {tap: [] for tap in STYLE_TAPS} for name in models}
    unclamped = {name: ([], []) for name in models if name != "magenta"}
    floor = []
    with torch.inference_mode():
        for i, style in enumerate(pairs.style):
            content = pairs.content[i: i + 1]
            style_stats = {tap: AF.mean_std(f) for tap, f in scorer(style, taps=STYLE_TAPS).items()}
            content_feat = scorer(content, taps=(CONTENT_TAP,))[CONTENT_TAP]
            target = AF.adain(content_feat, style_stats[CONTENT_TAP])
            floor.append(relative_content(target.clamp(min=0), content_feat).item())
            for name, model in models.items():
                out = model.stylize(content, style, content_size=0, style_size=0)
                for tap, value in per_layer_style(scorer, out, style_stats).items():
                    layers[name][tap].append(value)
                if name in unclamped:  # the network's own output, before the [0, 1] clamp
                    raw = model.model(content, [model.model.style_stats(style)]).float()
                    unclamped[name][0].append(measure_relative_content(scorer, raw, content).item())
                    unclamped[name][1].append(measure_relative_style(scorer, raw, style).item())
    print(f"{len(floor)} pairs at {args.size}; content floor of the AdaIN target: {statistics.fmean(floor):.3f}")
    print(f"{'model':<60} " + " ".join(f"{tap:>8}" for tap in STYLE_TAPS) + "   unclamped content / style")
    for name in models:
        row = " ".join(f"{statistics.fmean(layers[name][tap]):8.4f}" for tap in STYLE_TAPS)
        extra = (f"   {statistics.fmean(unclamped[name][0]):.3f} / {statistics.fmean(unclamped[name][1]):.3f}"
                 if name in unclamped else "")
        print(f"{name[-60:]:<60} {row}{extra}")


if __name__ == "__main__":
    main()
