"""The two scale-free quality numbers of design.md (lower is better).

relative content loss = ‖φ₄₁(out) − φ₄₁(content)‖² / ‖φ₄₁(content)‖²  (mean squares)
relative style loss   = Σ_l (‖μ_l(out) − μ_l(style)‖² + ‖σ_l(out) − σ_l(style)‖²)
                        / (‖μ_l(style)‖² + ‖σ_l(style)‖²),  l ∈ relu1_1…relu4_1

with φ the `vgg16-hed` encoder in fp32.  Scale: an unchanged content image scores about (0, 1.0);
the style image itself, resized to the content's size, about (1.4, 0.04).
"""

from __future__ import annotations

import torch

from adain.encoders import CONTENT_TAP, STYLE_TAPS, VGGEncoder
from adain.functional import mean_std


@torch.no_grad()
def relative_content_loss(encoder: VGGEncoder, output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) output and content in [0, 1] → (N,) relative content loss."""
    out = encoder(output.float(), taps=(CONTENT_TAP,))[CONTENT_TAP].float()
    ref = encoder(content.float(), taps=(CONTENT_TAP,))[CONTENT_TAP].float()
    return (out - ref).square().mean(dim=(1, 2, 3)) / ref.square().mean(dim=(1, 2, 3))


@torch.no_grad()
def relative_style_loss(encoder: VGGEncoder, output: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) output, (N, 3, h, w) style in [0, 1] → (N,) relative style loss."""
    out_feats = encoder(output.float(), taps=STYLE_TAPS)
    style_feats = encoder(style.float(), taps=STYLE_TAPS)
    total = torch.zeros(output.shape[0], device=output.device)
    for tap in STYLE_TAPS:
        o, s = mean_std(out_feats[tap]), mean_std(style_feats[tap])
        num = (o.mean - s.mean).square().mean(dim=(1, 2, 3)) + (o.std - s.std).square().mean(dim=(1, 2, 3))
        den = s.mean.square().mean(dim=(1, 2, 3)) + s.std.square().mean(dim=(1, 2, 3))
        total = total + num / den
    return total
