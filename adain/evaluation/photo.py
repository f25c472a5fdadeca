"""Structure measures for photo mode: does the output keep the content's edges?

    r = gradient_correlation(output, content)     # 1: the same edges; 0: unrelated

Pearson correlation, per image, between the Sobel gradient magnitudes of the two luminance
images.  It ignores colour and brightness changes (what a photographic style should change) and
drops when the stylisation adds edges the content lacks (texture in the sky, warped lines) or
loses those it had.  Used beside SSIM on luminance (`metrics.ssim_luminance`); a simple,
documented stand-in until the evaluation harness carries its own edge-preservation measure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB → (N, H−2, W−2) gradient magnitude of the luminance (no padding)."""
    luma = sum(w * image[:, i:i + 1].double() for i, w in enumerate(LUMA))
    kx = torch.tensor([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=torch.float64).view(1, 1, 3, 3) / 8
    gx, gy = F.conv2d(luma, kx), F.conv2d(luma, kx.transpose(-1, -2))
    return torch.sqrt(gx.square() + gy.square())[:, 0]


def gradient_correlation(output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) output and content of one size, in [0, 1] → (N,) correlation in [−1, 1]."""
    a = sobel_magnitude(output).flatten(1)
    b = sobel_magnitude(content).flatten(1)
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
