"""How much texture does each output hold in the photo's flat regions, against the painting's own?
Scores the outputs an eval.py run already wrote: for each output, the texture energy of its 16-px
windows at relu1_1 (8 positions at relu2_1) of the training encoder
(`adain.nn.losses.training.window_energy`), averaged over the photo's flattest fifth
(`adain.evaluation.flaws.flattest`, each window weighted by its share of it), over the style's median
window at the size eval.py gave it — the ratio `optim.texture_floor_weight` puts a floor under.
1.0: flat regions as textured as the painting's typical window.

    .venv/bin/python experiments/eval/artefacts/flat_texture.py runs/eval/pairing_c_floor30 \
        --out experiments/eval/artefacts/flat_texture.json

~1 min for 200 outputs on one core.
"""

import argparse
import functools
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from eval_outputs import mean_scores

from adain.evaluation.flaws import flattest, rgb_to_lab
from adain.nn.losses.training import window_energy
from adain.nn.pretrained import build_encoder

IMAGE_WINDOW = 16  # px, stride 8 px
WINDOWS = {"relu1_1": IMAGE_WINDOW, "relu2_1": IMAGE_WINDOW // 2}  # the same windows in positions at each tap


def flat_texture_ratio(encoder, output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """{tap: mean window energy of `output` over the photo's flat fifth / the style's median window
    energy}; output and content (1, 3, S, S), style (1, 3, h, w), all in [0, 1]."""
    flat = flattest(rgb_to_lab(content)[:, :1] / 100).float()  # (1, 1, S, S), on CIELAB lightness
    share = F.avg_pool2d(flat, IMAGE_WINDOW, IMAGE_WINDOW // 2)  # each window's share of the flat fifth
    with torch.no_grad():
        out_feats = encoder(output, taps=tuple(WINDOWS))
        style_feats = encoder(style, taps=tuple(WINDOWS))
    ratios = {}
    for tap, window in WINDOWS.items():
        energy = window_energy(out_feats[tap].float(), window)  # (1, 1, h, w)
        reference = window_energy(style_feats[tap].float(), window).flatten().quantile(0.5)
        ratios[tap] = float((energy * share).sum() / share.sum() / reference)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+", help="eval.py run dirs (metrics.csv, outputs/)")
    parser.add_argument("--encoder", default="vgg16-imagenet", help="the encoder whose features are scored")
    parser.add_argument("--out", type=Path, required=True, help="JSON: run → variant → tap → mean ratio")
    args = parser.parse_args()
    torch.set_num_threads(1)
    encoder = build_encoder(args.encoder).eval()
    results = mean_scores(args.run_dirs, functools.partial(flat_texture_ratio, encoder))
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
