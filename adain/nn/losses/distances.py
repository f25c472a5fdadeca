"""Scale-free distances between feature maps, per image: design.md's content and style numbers.

The one implementation behind the evaluation's measures (adain.evaluation.scoring), the training
losses (their batch means, adain.nn.losses.training) and the validation score of training runs.

Notation: φ_l = encoder features at tap l (fp32), μ/σ = per-channel mean/std over space
(`adain.nn.functional.mean_std`), G(F) = F·Fᵀ / (H·W) (`adain.nn.functional.gram`), "mean" = mean
over all elements of one image.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS
from adain.nn.functional import FeatureStats, gram, mean_std

Features = Mapping[str, torch.Tensor]  # tap name → (N, C, H, W)


def per_image_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean over everything but the batch dimension."""
    return x.flatten(1).mean(dim=1)  # (N, ...) → (N,)


def content_mse(out_feat: torch.Tensor, content_feat: torch.Tensor) -> torch.Tensor:
    """Content loss (Huang & Belongie 2017, eq. 12, as a mean): mean (φ₄₁(out) − φ₄₁(content))².

    (N, C, H, W) each → (N,).  0 for identical images.
    """
    return per_image_mean((out_feat.float() - content_feat.float()).square())


def relative_content(out_feat: torch.Tensor, content_feat: torch.Tensor) -> torch.Tensor:
    """‖φ(out) − φ(content)‖² / ‖φ(content)‖² (mean squares): design.md's scale-free content number
    on φ₄₁ (lower is better; 0 for identical features).  Also used on EfficientNet features, and,
    averaged over a batch, as the training loss `adain.nn.losses.training.relative_content_loss`.
    (N, C, H, W) each → (N,)."""
    return content_mse(out_feat, content_feat) / per_image_mean(content_feat.float().square()).clamp(min=1e-8)


def style_mean_std_loss(out_feats: Features, style_feats: Features, taps: Sequence[str]) -> torch.Tensor:
    """Mean/std style loss (Huang & Belongie 2017, eq. 13, means over channels):
    Σ_l mean_c (μ_l(out) − μ_l(style))² + mean_c (σ_l(out) − σ_l(style))².  → (N,)."""
    total = 0.0
    for tap in taps:
        o, s = mean_std(out_feats[tap]), mean_std(style_feats[tap])
        total = total + per_image_mean((o.mean - s.mean).square()) + per_image_mean((o.std - s.std).square())
    return total


def relative_style_stats(out_stats: Mapping[str, FeatureStats], style_stats: Mapping[str, FeatureStats],
                         taps: Sequence[str]) -> torch.Tensor:
    """Σ_l (‖μ_l(out) − μ_l(style)‖² + ‖σ_l(out) − σ_l(style)‖²) / (‖μ_l(style)‖² + ‖σ_l(style)‖²),
    ‖·‖² a mean over channels: design.md's scale-free style number (lower is better), from
    per-channel statistics (`adain.nn.functional.mean_std`, each (N, C, 1, 1)).  The one
    implementation: `relative_style` (features), the training loss
    `adain.nn.losses.training.relative_style_stats_loss` (its batch mean) and style identity use it.  → (N,)."""
    total = 0.0
    for tap in taps:
        o, s = out_stats[tap], style_stats[tap]
        num = per_image_mean((o.mean - s.mean).square()) + per_image_mean((o.std - s.std).square())
        den = per_image_mean(s.mean.square()) + per_image_mean(s.std.square())
        total = total + num / den.clamp(min=1e-8)
    return total


def relative_style(out_feats: Features, style_feats: Features, taps: Sequence[str]) -> torch.Tensor:
    """`relative_style_stats` of two feature dicts: design.md's style number on φ relu1_1…relu4_1,
    also used on EfficientNet stages.  → (N,)."""
    return relative_style_stats({t: mean_std(out_feats[t]) for t in taps},
                                {t: mean_std(style_feats[t]) for t in taps}, taps)


@torch.no_grad()
def measure_relative_content(encoder, output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """design.md's relative content loss of images: encode (N, 3, H, W) output and content in
    [0, 1] with `encoder` (design.md: fp32 `vgg16-hed`) at relu4_1 → (N,)."""
    out = encoder(output.float(), taps=(CONTENT_TAP,))[CONTENT_TAP].float()
    ref = encoder(content.float(), taps=(CONTENT_TAP,))[CONTENT_TAP].float()
    return relative_content(out, ref)


@torch.no_grad()
def measure_relative_style(encoder, output: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """design.md's relative style loss of images: (N, 3, H, W) output, (N, 3, h, w) style in
    [0, 1], encoded at relu1_1…relu4_1 → (N,).  Scale: an unchanged content image scores about
    1.0, the style image itself resized to the content's size about 0.04."""
    return relative_style(encoder(output.float(), taps=STYLE_TAPS), encoder(style.float(), taps=STYLE_TAPS),
                          STYLE_TAPS)


def gram_loss(out_feats: Features, style_feats: Features, taps: Sequence[str]) -> torch.Tensor:
    """Gram style loss (Gatys et al. 2016, eq. 5, with G normalised by H·W and a mean over the
    C×C entries instead of 1/(4N²M²)): Σ_l mean (G(φ_l(out)) − G(φ_l(style)))².  → (N,)."""
    total = 0.0
    for tap in taps:
        total = total + per_image_mean((gram(out_feats[tap]) - gram(style_feats[tap])).square())
    return total


def relative_gram_loss(out_feats: Features, style_feats: Features, taps: Sequence[str]) -> torch.Tensor:
    """Scale-free Gram loss: Σ_l ‖G_l(out) − G_l(style)‖² / ‖G_l(style)‖² (Frobenius).  → (N,)."""
    total = 0.0
    for tap in taps:
        target = gram(style_feats[tap])
        total = total + per_image_mean((gram(out_feats[tap]) - target).square()) / per_image_mean(target.square())
    return total
