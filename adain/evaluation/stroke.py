"""A measure of stroke size: the characteristic spatial frequency of an image's detail layer.

    f = detail_frequency(image)      # cycles per pixel; strokes about 1 / f px across
    size = stroke_size(image)        # = 1 / f

The detail layer is the luminance minus a Gaussian blur of it (σ = 1/16 of the shorter side):
what is left after the smooth layout of colours and shading is taken away — the strokes,
texture and edges.  Its power spectrum (Hann-windowed, so the image's borders add no spurious
edges) is averaged over orientations, and the power-weighted mean radial frequency (the
spectral centroid) is the measure.  The centroid, unlike the arg-max of a noisy spectrum, moves
smoothly as the energy shifts between frequencies.  Larger strokes put more of the detail
layer's power at low frequencies, so f falls (and `stroke_size` grows) as a style is encoded at
a larger scale (`style_scale`, adain.methods.base).  Used to check stroke-size control; it is a
relative measure for outputs of one content at one size, not an absolute stroke width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as functional.luminance


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, 1, H, W) → the same, separable Gaussian, reflection at the borders."""
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(image.dtype)
    out = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))


def detail_layer(image: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] → (N, 1, H, W) luminance minus its Gaussian blur
    (σ: default 1/16 of the shorter side)."""
    luma = sum(w * image[:, i:i + 1].double() for i, w in enumerate(LUMA))
    sigma = sigma or min(image.shape[-2:]) / 16
    return luma - _gaussian_blur(luma, sigma)


def radial_spectrum(detail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) → (frequencies (B,), power (N, B)): Hann-windowed power spectrum averaged over
    orientations in bins of 1/min(H, W) cycles per pixel, from the first non-zero bin to 0.5."""
    height, width = detail.shape[-2:]
    window = torch.outer(torch.hann_window(height, periodic=False, dtype=torch.float64),
                         torch.hann_window(width, periodic=False, dtype=torch.float64))
    x = detail[:, 0] - detail[:, 0].mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x * window).abs().square()  # (N, H, W)
    fy = torch.fft.fftfreq(height, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, dtype=torch.float64)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)  # cycles per pixel
    step = 1.0 / min(height, width)
    bins = torch.round(radius / step).long()
    count = int(round(0.5 / step)) + 1
    keep = (bins >= 1) & (bins < count)
    totals = torch.zeros(power.shape[0], count, dtype=torch.float64)
    totals.index_add_(1, bins[keep], power[:, keep])
    numbers = torch.zeros(count, dtype=torch.float64).index_add_(0, bins[keep], torch.ones_like(radius[keep]))
    frequencies = torch.arange(count, dtype=torch.float64) * step
    return frequencies[1:], (totals / numbers.clamp_min(1))[:, 1:]


def detail_frequency(image: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Stroke frequency: power-weighted mean radial frequency of the detail layer.

    Args:
        image: (N, 3, H, W) or (3, H, W) RGB in [0, 1].
        sigma: the blur removed to form the detail layer (default 1/16 of the shorter side).

    Returns:
        (N,) float64, cycles per pixel in (0, 0.5]; lower means larger strokes.
    """
    image = image.unsqueeze(0) if image.dim() == 3 else image
    frequencies, power = radial_spectrum(detail_layer(image, sigma))
    return (power * frequencies).sum(dim=1) / power.sum(dim=1).clamp_min(1e-30)


def stroke_size(image: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """(N,) characteristic stroke size in pixels: 1 / `detail_frequency`."""
    return 1.0 / detail_frequency(image, sigma)
