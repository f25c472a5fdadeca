"""Training losses, one per paper term.

AdaIN (Huang & Belongie 2017, §6.2): `content_loss`, `style_stats_loss`.
Johnson et al. (2016, §3): `feature_loss`, `gram_style_loss`, `total_variation_loss`.

Features are dicts {tap: (N, C, H, W)} from the encoder.  MSE is the mean over all elements.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from adain.encoders import CONTENT_TAP, STYLE_TAPS
from adain.functional import FeatureStats, gram, mean_std


def content_loss(output_feats: Mapping[str, torch.Tensor], target: torch.Tensor, tap: str = CONTENT_TAP) -> torch.Tensor:
    """L_c = ‖φ₄(g(t)) − t‖²: the decoded image must re-encode to the AdaIN target t.

    Paper eq. (12); MSE instead of a sum (a constant factor).
    """
    return F.mse_loss(output_feats[tap].float(), target.float())


def style_stats_loss(output_feats: Mapping[str, torch.Tensor], style_stats: Mapping[str, FeatureStats],
                     taps: Sequence[str] = STYLE_TAPS) -> torch.Tensor:
    """L_s = Σ_l ‖μ(φ_l(g(t))) − μ(φ_l(s))‖² + ‖σ(φ_l(g(t))) − σ(φ_l(s))‖² over relu1_1…relu4_1.

    Paper eq. (13); MSE over channels (and batch) instead of a sum, as the PyTorch port does.
    """
    total = torch.zeros((), device=next(iter(output_feats.values())).device)
    for tap in taps:
        out = mean_std(output_feats[tap])
        total = total + F.mse_loss(out.mean, style_stats[tap].mean) + F.mse_loss(out.std, style_stats[tap].std)
    return total


def feature_loss(output_feats: Mapping[str, torch.Tensor], content_feats: Mapping[str, torch.Tensor],
                 tap: str) -> torch.Tensor:
    """Johnson et al. (2016) eq. (2), feature reconstruction: ‖φ_j(ŷ) − φ_j(y_c)‖² / (C·H·W) at one
    tap (the paper: relu2_2), as an MSE."""
    return F.mse_loss(output_feats[tap].float(), content_feats[tap].float())


def gram_style_loss(output_feats: Mapping[str, torch.Tensor], style_grams: Mapping[str, torch.Tensor],
                    taps: Sequence[str], layer_weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Johnson et al. (2016) eq. (4), style reconstruction: Σ_j w_j·‖G_j(ŷ) − G_j(y_s)‖²_F.

    G_j = F·Fᵀ / (H·W) is `adain.functional.gram` (the paper also divides by C); the squared
    Frobenius norm is an MSE over the C×C entries (the paper: a sum).  Both are constant factors
    per layer.  `layer_weights` (default 1) are per-layer constants; JohnsonObjective sets them to
    1 / mean(G_j(y_s)²), because with this encoder's 0–255 inputs the raw terms span six orders
    of magnitude (relu1_2 ~10⁶, relu4_3 ~10) and the shallow layers alone would set the style.
    `style_grams[tap]` is (1 or N, C, C).
    """
    total = torch.zeros((), device=next(iter(output_feats.values())).device)
    for tap in taps:
        out = gram(output_feats[tap])  # (N, C, C) fp32
        weight = 1.0 if layer_weights is None else layer_weights[tap]
        total = total + weight * F.mse_loss(out, style_grams[tap].expand_as(out))
    return total


def total_variation_loss(image: torch.Tensor) -> torch.Tensor:
    """Johnson et al. (2016) §3.3 total-variation regulariser on (N, 3, H, W): the mean squared
    difference of horizontally and vertically neighbouring pixels (encourages smooth outputs)."""
    image = image.float()
    return ((image[..., 1:, :] - image[..., :-1, :]).square().mean()
            + (image[..., :, 1:] - image[..., :, :-1]).square().mean())
