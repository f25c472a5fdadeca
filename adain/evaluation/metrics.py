"""Per-pair quality measures of a stylised image on pixels and on any network's features, as pure
functions on tensors (lower is better unless stated); the content and style distances on features
are in adain.nn.losses.distances.  All images are (N, 3, H, W) RGB in [0, 1]; outputs and contents have the same
size, styles may differ in size.  Feature maps come from the caller (`PairScorer` in scoring.py
encodes each image once and passes the features here), so every function is cheap and testable.

Notation: φ_l = the `vgg16-hed` encoder's relu{l} features (fp32), ψ_l = EfficientNet-Lite0
stage features, μ/σ = per-channel mean/std over space (`adain.nn.functional.mean_std`),
G(F) = F·Fᵀ / (H·W) (`adain.nn.functional.gram`), "mean" = mean over all elements.
"""

from __future__ import annotations

import torch

from adain.nn.functional import luminance
from adain.nn.losses.distances import per_image_mean



def layout_correlation(out_feat: torch.Tensor, content_feat: torch.Tensor) -> torch.Tensor:
    """ρ = Σ_c cov_c(out, content) / Σ_c σ_c(out)·σ_c(content) over space: how far the output keeps
    the content's layout, blind to the features' means and energy.  relative_content is
        (HW·Σ_c Δμ_c² + HW·Σ_c σ_c(out)² + HW·Σ_c σ_c(content)² − 2·HW·Σ_c cov_c) / ‖content‖²,
    so it falls both with a higher ρ and with blander output features (a lower σ(out)); ρ tells the
    two apart (Magenta's lower EfficientNet content distance is ~27 % lower output
    variance at the same ρ).  1 for the content itself, ~0 for an unrelated image.
    (N, C, H, W) each → (N,)."""
    out = out_feat.float().flatten(2)
    ref = content_feat.float().flatten(2)  # (N, C, HW)
    out = out - out.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    covariance = (out * ref).mean(-1).sum(-1)  # (N,)
    scale = (out.square().mean(-1).sqrt() * ref.square().mean(-1).sqrt()).sum(-1)
    return covariance / scale.clamp(min=1e-8)


def ssim_luminance(output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004) between the luminances Y (BT.601) of output and content, Gaussian
    window 11, σ 1.5, data range 1 (torchmetrics).  HIGHER is better; 1 for identical images.
    (N, 3, H, W) each, H, W ≥ 11 → (N,)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return structural_similarity_index_measure(luminance(output).clamp(0, 1), luminance(content).clamp(0, 1),
                                               data_range=1.0, reduction="none")


def color_wasserstein(output: torch.Tensor, style: torch.Tensor, quantiles: int = 256) -> torch.Tensor:
    """Colour-histogram distance: the 1-D Wasserstein-1 (earth mover's) distance between the
    output's and the style's pixel-value distributions, per RGB channel, averaged over channels:
    (1/3) Σ_c ∫₀¹ |F⁻¹_out,c(q) − F⁻¹_style,c(q)| dq, the integral taken at `quantiles` midpoints.
    In units of [0, 1] intensity: a constant image against the same image shifted by 0.1 gives
    0.1.  Images may differ in size.  (N, 3, H, W), (N, 3, h, w) → (N,)."""
    levels = (torch.arange(quantiles, dtype=torch.float32, device=output.device) + 0.5) / quantiles
    a = _quantiles(output, levels)  # (N, 3, Q)
    b = _quantiles(style, levels)
    return (a - b).abs().mean(dim=(1, 2))


def _quantiles(image: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 3, Q): the empirical quantile function at `levels` (nearest rank)."""
    values = image.float().flatten(2).sort(dim=2).values  # (N, 3, H·W)
    index = (levels * values.shape[2]).long().clamp(max=values.shape[2] - 1)
    return values[:, :, index]


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017):
    ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½).  (n_a, D), (n_b, D) → float, NaN when a set has
    fewer than two samples.  Σ is the unbiased sample covariance (as in torchmetrics' FID).

    Computed without a D×D matrix square root: with centred A = X_a/√(n_a−1), B = X_b/√(n_b−1),
    Σ_a = AᵀA and Σ_b = BᵀB, the eigenvalues of Σ_a Σ_b are the squared singular values of A·Bᵀ
    (n_a × n_b), so Tr (Σ_a Σ_b)^½ = ‖A·Bᵀ‖_* (nuclear norm) and Tr Σ = ‖A‖²_F.  Exact, and at
    D = 1280 seconds faster than torchmetrics' eigvals of a D×D product (the tests check that
    both agree).

    On EfficientNet-Lite0 pooled features this is "FD-EfficientNet-Lite0": NOT FID (no
    Inception-v3), not comparable with published FID values, and biased upwards for small sets."""
    if features_a.shape[0] < 2 or features_b.shape[0] < 2:
        return float("nan")
    a, b = features_a.double(), features_b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    centred_a = (a - mean_a) / (a.shape[0] - 1) ** 0.5  # (n_a, D)
    centred_b = (b - mean_b) / (b.shape[0] - 1) ** 0.5  # (n_b, D)
    cross = torch.linalg.svdvals(centred_a @ centred_b.T).sum()  # Tr (Σ_a Σ_b)^½
    value = (mean_a - mean_b).square().sum() + centred_a.square().sum() + centred_b.square().sum() - 2 * cross
    return float(value)


def style_ranks(distances: torch.Tensor, true_index: torch.Tensor) -> torch.Tensor:
    """Style identity: the rank of the style an output was made with among all candidate styles,
    by distance in an independent feature space (1 = it is the nearest; ties count in its
    favour).  (N, S) distances from each output to each style, (N,) index of its own style →
    (N,) float ranks in 1…S.  Over a pair set: top-1 accuracy = mean(rank == 1) (HIGHER is
    better; chance 1/S) and mean rank (LOWER is better; chance (S + 1)/2).  The protocol is that
    of style-retrieval evaluations (e.g. "style-aware content loss", Sanakoyeu et al. ECCV 2018,
    which scores stylisations by whether a style classifier recognises the artist); here the
    "classifier" is the nearest style by EfficientNet-Lite0 mean/std statistics."""
    own = distances.gather(1, true_index.long().view(-1, 1))  # (N, 1)
    return 1.0 + (distances < own).sum(dim=1).float()


def psnr(output: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, 10·log10(1 / MSE) over RGB in [0, 1] (data range 1).
    HIGHER is better; 100 dB caps identical images.  (N, 3, H, W) each → (N,)."""
    mse = per_image_mean((output.float() - reference.float()).square())
    return 10.0 * torch.log10(1.0 / mse.clamp(min=1e-10))
