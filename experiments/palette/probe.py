"""Is a style's palette readable from what the decoder is given?  (issue 14, colour distance)

The AdaIN decoder sees only t = AdaIN(φ₄(c), φ₄(s)): of the style, nothing but the per-channel
mean and std of its relu4_1 features (2 × 512 numbers).  If the style's RGB mean and std cannot be
predicted from those numbers, no training of this decoder can match the style's colours, and the
colour distance needs the palette passed in another way.  A ridge regression, cross-validated over
style images, from each tap's (μ, σ) to the image's RGB (μ, σ) answers it.

    python experiments/palette/probe.py --styles /work/pack384/style/train --count 400 --size 256
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from adain import functional as AF
from adain.data import list_images
from adain.encoders import STYLE_TAPS, build_encoder
from adain.io import load_image


def ridge_cv(x: torch.Tensor, y: torch.Tensor, folds: int = 5, ridge: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) features, (N, K) targets → (K,) out-of-fold R² and (K,) RMS error of a ridge
    regression on standardised x."""
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    predictions = torch.empty_like(y)
    for fold in range(folds):
        test = order[fold::folds]
        train = order[torch.isin(order, test, invert=True)]
        mean, std = x[train].mean(0), x[train].std(0).clamp(min=1e-6)
        xs_train, xs_test = (x[train] - mean) / std, (x[test] - mean) / std
        y_mean = y[train].mean(0)
        gram = xs_train.T @ xs_train + ridge * len(train) * torch.eye(x.shape[1], dtype=x.dtype)
        weights = torch.linalg.solve(gram, xs_train.T @ (y[train] - y_mean))
        predictions[test] = xs_test @ weights + y_mean
    residual = (predictions - y).square().sum(0)
    total = (y - y.mean(0)).square().sum(0)
    return 1 - residual / total, (residual / n).sqrt()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--styles", required=True)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--encoder", default="vgg16-imagenet")
    parser.add_argument("--out", default="experiments/palette/probe.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    files = list_images(args.styles)
    files = [files[i] for i in torch.randperm(len(files))[: args.count].tolist()]
    encoder = build_encoder(args.encoder).eval()
    feats = {tap: [] for tap in STYLE_TAPS}
    palette = []  # per image: RGB mean (3) then std (3), [0, 1] units
    with torch.no_grad():
        for path in files:
            image = load_image(path, size=args.size)  # (1, 3, H, W) in [0, 1]
            stats = AF.mean_std(image)
            palette.append(torch.cat([stats.mean.flatten(), stats.std.flatten()]))
            for tap, f in encoder(image, taps=STYLE_TAPS).items():
                s = AF.mean_std(f.float())
                feats[tap].append(torch.cat([s.mean.flatten(), s.std.flatten()]))
    y = torch.stack(palette).double()  # (N, 6): R, G, B means then stds
    names = ["mean_R", "mean_G", "mean_B", "std_R", "std_G", "std_B"]
    result = {"encoder": args.encoder, "count": len(files), "size": args.size, "r2": {}, "rmse": {}}
    for ridge in (0.01, 0.1, 1.0):
        for tap in STYLE_TAPS:
            r2, rmse = ridge_cv(torch.stack(feats[tap]).double(), y, ridge=ridge)
            result["r2"][f"{tap}@ridge{ridge}"] = dict(zip(names, [round(v, 3) for v in r2.tolist()]))
            result["rmse"][f"{tap}@ridge{ridge}"] = dict(zip(names, [round(v, 4) for v in rmse.tolist()]))
            print(f"ridge {ridge:<5} {tap}: R² " + " ".join(f"{v:.3f}" for v in r2.tolist())
                  + "   RMS error " + " ".join(f"{v:.4f}" for v in rmse.tolist()))
    spread = y.std(0)
    result["target_std"] = dict(zip(names, [round(v, 4) for v in spread.tolist()]))
    print("spread of the targets over styles: " + " ".join(f"{n} {v:.4f}" for n, v in zip(names, spread.tolist())))
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
