"""The three loss terms of Gatys et al. optimisation, one function per paper term.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
(content loss eq. 1, Gram-matrix style loss eqs. 3–5, total L = α·L_content + β·L_style, eq. 7);
Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017 (spatial
control: a Gram matrix per region, §4).

Normalisation (so that one set of default weights works at any image size, for any encoder):
  - Gram matrices are divided by the number of positions H·W (`adain.nn.functional.gram`); the
    style loss of a layer is the mean squared difference over its C×C entries — the paper's
    E_l = Σ(G − A)² / (4·N_l²·M_l²) up to the constant ¼ — *divided by mean(A²)*, the mean
    square of the style's own Gram matrix.  Deviation from the paper: Gatys et al. rescaled
    their VGG so that every filter's mean activation is one, which keeps the layers' E_l
    comparable; our encoders are not rescaled, and without the division relu1_1's E_l is
    ~10⁶ times relu5_1's (vgg16-hed), so the deep layers would carry no weight at all.
  - The content loss is likewise relative: mean((F − P)²) / mean(P²) instead of ½·Σ(F − P)².
  - Total variation is the mean squared difference of neighbouring pixels.
Every term is then a ratio of averages, independent of H, W and the encoder's activation scale.
All losses are computed in float32 whatever the features' dtype (call them outside autocast).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange

from adain.nn.functional import gram
from adain.nn.losses.training import total_variation_loss


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_content = mean((F − P)²) / mean(P²) at one layer (paper eq. 1, relative, see above).

    Args:
        features: (N, C, H, W) features of the image being optimised.
        target: (N|1, C, H, W) features of the content image at the same layer.

    Returns:
        A scalar, float32.
    """
    target = target.float()
    return (features.float() - target).square().mean() / target.square().mean().clamp_min(1e-12)


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrix over a soft region: Σ_p m(p)·F(p)·F(p)ᵀ / Σ_p m(p) (Gatys et al. 2017, §4).

    Args:
        features: (N, C, H, W).
        mask: (N|1, 1, h, w) non-negative weights at any resolution; area-resized to (H, W).

    Returns:
        (N, C, C), float32.  With a mask of ones this equals `gram(features)`.
    """
    weights = F.interpolate(mask.float(), size=features.shape[-2:], mode="area")  # (N|1, 1, H, W)
    flat = rearrange(features.float(), "n c h w -> n c (h w)")
    flat_weights = rearrange(weights, "n 1 h w -> n 1 (h w)")
    total = flat_weights.sum(dim=-1, keepdim=True).clamp_min(1e-8)  # (N|1, 1, 1)
    return (flat * flat_weights) @ flat.transpose(1, 2) / total


def gram_loss(output_gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = mean((G − A)²) / mean(A²) over the C×C entries and the batch (paper eq. 4, relative).

    (N, C, C), (1|N, C, C) → scalar.
    """
    target_gram = target_gram.float()
    return (output_gram - target_gram).square().mean() / target_gram.square().mean().clamp_min(1e-12)


def style_loss(
    features: Mapping[str, torch.Tensor],
    style_grams: Sequence[Mapping[str, torch.Tensor]],
    style_weights: Sequence[float],
    layer_weights: Mapping[str, float],
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_style = Σ_k v_k Σ_l w_l·E_l(k): per-layer Gram losses (paper eq. 5), summed over styles.

    Args:
        features: {tap: (N, C, H, W)} of the image being optimised.
        style_grams: one {tap: (1, C, C)} per style, precomputed from the style images.
        style_weights: v_k, one per style (normalised by the caller to sum to one).
        layer_weights: w_l per style tap.
        masks: optional (N|1, K, H, W) soft masks; style k is then compared with the Gram
            matrix of region k only (spatial control), not with the whole image's.

    Returns:
        A scalar, float32.
    """
    total = torch.zeros((), device=next(iter(features.values())).device)
    for tap, layer_weight in layer_weights.items():
        feat = features[tap]
        whole_image_gram = gram(feat) if masks is None else None  # (N, C, C), shared by all styles
        for k, (grams, style_weight) in enumerate(zip(style_grams, style_weights)):
            output_gram = whole_image_gram if masks is None else masked_gram(feat, masks[:, k : k + 1])
            total = total + style_weight * layer_weight * gram_loss(output_gram, grams[tap])
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertically and horizontally neighbouring pixels
    (`adain.nn.losses.training.total_variation_loss`, the one implementation).

    Not in the 2016 paper; a smoothness prior (Mahendran & Vedaldi 2015) that suppresses the
    high-frequency noise optimisation leaves behind.  (N, 3, H, W) → scalar.
    """
    return total_variation_loss(image)
