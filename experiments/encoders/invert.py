"""What each encoder keeps of a photo: feature inversion, and what its losses ask a decoder for.

    .venv/bin/python experiments/encoders/invert.py                       # inversions, ~20 min CPU
    .venv/bin/python experiments/encoders/invert.py --mode adain-target   # zero vs reflection padding

`--mode inversion` (Mahendran & Vedaldi 2015): starting from grey plus seeded noise, optimise an
image with L-BFGS until its features at one tap match the photo's (MSE), for each encoder and tap.
What comes back is what the tap holds: a decoder trained against that encoder can at best give it
back.  Scored against the photo by PSNR and SSIM (pixels: measures outside either encoder).

`--mode adain-target`: the image that the AdaIN training losses ask for, without any decoder.
Optimise an image, from the content, so that its relu4_1 features match t = AdaIN(φ₄(c), φ₄(s))
and its relu1_1…relu4_1 mean/std match the style's (the decoder's relative losses, λ = 5), once
with the encoder zero-padded and once reflection-padded.  A frame that the losses themselves ask
for shows up here as gradient energy in the border band (frame ratio: border band over the band
just inside it, relative to the content's same ratio; about 1 = no frame).

Images: scikit-image's `chelsea` and `coffee` photos (they ship with a pip package) and the
project's built-in example styles, so that the figure can be checked in.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.cli.examples import example_contents, example_styles  # noqa: E402
from adain.core.io import load_image, save_image  # noqa: E402
from adain.nn import functional as AF  # noqa: E402
from adain.nn.encoders import STYLE_TAPS
from adain.nn.losses.training import relative_content_loss, relative_style_stats_loss  # noqa: E402
from adain.nn.pretrained import build_encoder

HERE = Path(__file__).resolve().parent
ENCODERS = ("vgg16-hed", "vgg16-imagenet")
INVERSION_TAPS = ("relu2_1", "relu3_1", "relu4_1", "relu5_1")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return (10 * torch.log10(1.0 / F.mse_loss(a, b))).item()


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    from torchmetrics.functional.image import structural_similarity_index_measure

    return structural_similarity_index_measure(a, b, data_range=1.0).item()


def optimise(image: torch.Tensor, loss_fn, iterations: int) -> tuple[torch.Tensor, float]:
    """L-BFGS on the pixels of (1, 3, H, W) `image`, kept in [0, 1]; returns (image, final loss)."""
    image = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)  # L-BFGS views .grad flat
    optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=iterations, history_size=20,
                                  tolerance_grad=0, tolerance_change=0, line_search_fn="strong_wolfe")
    last = [float("nan")]

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(image.clamp(0, 1))
        loss.backward()
        last[0] = loss.item()
        return loss

    optimizer.step(closure)
    return image.detach().clamp(0, 1), last[0]


def invert(encoder, photo: torch.Tensor, tap: str, iterations: int, seed: int) -> tuple[torch.Tensor, float]:
    """Grey + noise → an image whose `tap` features match the photo's; returns it and the final
    relative feature error ‖φ(x) − φ(p)‖² / ‖φ(p)‖²."""
    with torch.no_grad():
        target = encoder(photo, taps=(tap,))[tap]
    energy = target.square().mean()
    generator = torch.Generator().manual_seed(seed)
    start = 0.5 + 0.1 * torch.randn(photo.shape, generator=generator)
    return optimise(start, lambda x: F.mse_loss(encoder(x, taps=(tap,))[tap], target) / energy, iterations)


def frame_ratio(image: torch.Tensor, band: int = 4) -> float:
    """Mean gradient magnitude in the outer `band` pixels over that of the next band inward."""
    grey = image.mean(dim=1, keepdim=True)[0, 0]
    gy = (grey[1:, :] - grey[:-1, :]).abs()[:, :-1]
    gx = (grey[:, 1:] - grey[:, :-1]).abs()[:-1, :]
    magnitude = gx + gy  # (H-1, W-1)
    outer = torch.ones_like(magnitude, dtype=torch.bool)
    outer[band:-band, band:-band] = False
    inner = torch.zeros_like(outer)
    inner[band:-band, band:-band] = True
    inner[2 * band:-2 * band, 2 * band:-2 * band] = False
    return (magnitude[outer].mean() / magnitude[inner].mean()).item()


def run_inversions(args) -> dict:
    photos = [load_image(p, size=args.size) for p in example_contents()[: args.photos]]
    results, rows = [], []
    for name in ENCODERS:
        encoder = build_encoder(name)
        for photo_index, photo in enumerate(photos):
            row = [photo]
            for tap in INVERSION_TAPS:
                started = time.perf_counter()
                image, error = invert(encoder, photo, tap, args.iterations, seed=photo_index)
                result = {"encoder": name, "photo": example_contents()[photo_index].stem, "tap": tap,
                          "relative_feature_error": error, "psnr": psnr(image, photo), "ssim": ssim(image, photo),
                          "seconds": time.perf_counter() - started}
                print(json.dumps(result), flush=True)
                results.append(result)
                row.append(image)
            rows.append(torch.cat(row, dim=3))
    save_image(torch.cat(rows, dim=2), HERE / "inversions.jpg", quality=88)
    return {"iterations": args.iterations, "size": args.size, "taps": list(INVERSION_TAPS),
            "rows": [f"{n} × {p.stem}" for n in ENCODERS for p in example_contents()[: args.photos]],
            "results": results}


def run_adain_targets(args) -> dict:
    contents = [load_image(p, size=args.size) for p in example_contents()[: args.photos]]
    styles = [load_image(p, size=args.size) for p in example_styles()]
    results, rows = [], []
    for padding in ("zero", "reflect"):
        encoder = build_encoder("vgg16-imagenet", padding=padding)
        row = []
        for content in contents:
            for style_index, style in enumerate(styles):
                with torch.no_grad():
                    style_stats = {t: AF.mean_std(f) for t, f in encoder(style, taps=STYLE_TAPS).items()}
                    target = AF.adain(encoder(content, taps=("relu4_1",))["relu4_1"], style_stats["relu4_1"])

                def loss_fn(x):
                    feats = encoder(x, taps=STYLE_TAPS)
                    return relative_content_loss(feats, target) + 5.0 * relative_style_stats_loss(feats, style_stats)

                image, loss = optimise(content, loss_fn, args.iterations)
                result = {"padding": padding, "style": example_styles()[style_index].stem, "loss": loss,
                          "frame_ratio": frame_ratio(image) / frame_ratio(content)}
                print(json.dumps(result), flush=True)
                results.append(result)
                row.append(image)
        rows.append(torch.cat(row, dim=3))
    save_image(torch.cat(rows, dim=2), HERE / "adain_targets.jpg", quality=88)
    return {"iterations": args.iterations, "size": args.size, "rows": ["zero padding", "reflection padding"],
            "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("inversion", "adain-target"), default="inversion")
    parser.add_argument("--size", type=int, default=160, help="shorter side of the photos")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--photos", type=int, default=2)
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    summary = run_inversions(args) if args.mode == "inversion" else run_adain_targets(args)
    (HERE / f"{args.mode}.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
