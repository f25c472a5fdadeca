"""The pure tensor core of style transfer: statistics, AdaIN, blending, masks, colour.

Every function here is stateless and works on batched tensors; shapes are given as
N (batch), C (channels), H, W (height, width), K (number of styles).  Statistics are computed
in float32 whatever the input dtype, because bf16 has too few mantissa bits for a variance.

References:
    Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
    Normalization", ICCV 2017 (AdaIN, style interpolation, spatial control, α trade-off).
    Gatys et al., "Preserving Color in Neural Artistic Style Transfer", arXiv:1606.05897, 2016
    (colour histogram matching and luminance-only transfer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange

from adain.core.errors import UserError

EPS = 1e-5
# AdaIN divides each channel by the content's std, so a channel that is nearly silent in the content
# (its energy in a handful of pixels) gets a gain σ(s)/σ(c) of hundreds: on a photo of a clear sky
# one relu4_1 channel is amplified ~250× and decodes to a coloured blob where it peaks.  EPS is
# negligible at VGG feature scales (relu1_1 ~25–75, relu4_1 ~240–750), so the std AdaIN divides by is
# floored at this fraction of the median channel std of the same map: a floor that scales with the
# features, the same in training, inference, tiling, masks, blending and video (`normalising_std`).
STD_FLOOR_RATIO = 0.1


@dataclass(frozen=True)
class FeatureStats:
    """Per-channel mean and standard deviation of a feature map, each (N, C, 1, 1), float32.

    A style's statistics (AdaINModel.style_stats) also carry its `palette`: the style image's own
    RGB mean and std, each (N, 3, 1, 1) in [0, 1] units, for decoders with a palette input
    (adain.nn.decoder), and `skips`: its statistics at the shallower taps a skip decoder
    takes ({tap: FeatureStats}); None everywhere else."""

    mean: torch.Tensor
    std: torch.Tensor
    palette: "FeatureStats | None" = None
    skips: "dict[str, FeatureStats] | None" = None

    def to(self, device: torch.device | str) -> "FeatureStats":
        palette = self.palette.to(device) if self.palette is not None else None
        skips = {tap: stats.to(device) for tap, stats in self.skips.items()} if self.skips is not None else None
        return FeatureStats(self.mean.to(device), self.std.to(device), palette, skips)


def mean_std(feat: torch.Tensor, weight: torch.Tensor | None = None, eps: float = EPS) -> FeatureStats:
    """Per-channel mean and std over space.

    Args:
        feat: (N, C, H, W) features.
        weight: optional (N, 1, H, W) non-negative spatial weights (a soft region mask); the
            statistics are then weighted averages over the region.
        eps: added to the variance, so that a constant channel gets std sqrt(eps), not 0.

    Returns:
        FeatureStats with mean and std of shape (N, C, 1, 1), float32.  The variance is the
        population variance (divide by H·W), so statistics accumulated over tiles agree.
    """
    x = feat.float()
    if weight is None:
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = _centred_square_mean(x, mean)
    else:
        w = weight.float()
        total = w.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)  # (N, 1, 1, 1)
        mean = (x * w).sum(dim=(2, 3), keepdim=True) / total
        var = ((x - mean).square() * w).sum(dim=(2, 3), keepdim=True) / total
    return FeatureStats(mean, (var + eps).sqrt())


# Rows per band × width ≈ this many pixels in `_centred_square_mean`: (x − μ)² of a whole relu1_1
# map would be a 256 B-per-pixel temporary; bands of 8k pixels are 2 MB at 64 channels and, on the
# 2-core AVX2 CPU, 8× faster than torch.var_mean (Welford: 165 vs 20 ms for a 64×512² map).
STATS_BAND_PIXELS = 1 << 13


def _centred_square_mean(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """mean((x − μ)²) over space of (N, C, H, W), (N, C, 1, 1): the two-pass variance, a band of
    rows at a time."""
    height, width = x.shape[-2:]
    rows = max(1, STATS_BAND_PIXELS // width)
    total = torch.zeros_like(mean)
    for top in range(0, height, rows):
        total += (x[..., top:top + rows, :] - mean).square_().sum(dim=(2, 3), keepdim=True)
    return total / (height * width)


def normalising_std(stats: FeatureStats, floor_ratio: float | None = None) -> torch.Tensor:
    """The std AdaIN divides the content by: max(σ_c, floor_ratio · median over channels of σ).

    (N, C, 1, 1) statistics → (N, C, 1, 1), float32; the median is per sample (per region for
    masked statistics).  floor_ratio None: STD_FLOOR_RATIO as it is at the call (an experiment
    may set it for a whole run); 0 gives σ_c itself.
    """
    floor_ratio = STD_FLOOR_RATIO if floor_ratio is None else floor_ratio
    if floor_ratio <= 0:
        return stats.std
    floor = floor_ratio * stats.std.median(dim=1, keepdim=True).values  # (N, 1, 1, 1)
    return torch.maximum(stats.std, floor)


def adain(content_feat: torch.Tensor, style: torch.Tensor | FeatureStats, eps: float = EPS,
          content_stats: FeatureStats | None = None) -> torch.Tensor:
    """Adaptive instance normalisation: t = σ(s)·(c − μ(c))/σ(c) + μ(s), σ(c) floored by `normalising_std`.

    Args:
        content_feat: (N, C, H, W) content features.
        style: (N|1, C, h, w) style features, or their precomputed FeatureStats.
        content_stats: μ(c), σ(c) if already known (a tile of a larger image takes the whole
            image's, see adain.inference.tiling); default: those of `content_feat`.

    Returns:
        (N, C, H, W) float32 features whose per-channel mean/std equal the style's.
    """
    style_stats = style if isinstance(style, FeatureStats) else mean_std(style, eps=eps)
    content_stats = content_stats if content_stats is not None else mean_std(content_feat, eps=eps)
    normalised = (content_feat.float() - content_stats.mean) / normalising_std(content_stats)
    return normalised * style_stats.std + style_stats.mean


def normalise_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Validate style interpolation weights and scale them to sum to one.

    None means equal weights.  Raises UserError naming the problem for a wrong count, a
    negative or non-finite weight, or weights that sum to zero.
    """
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise UserError(f"style weights: got {len(weights)} weights for {count} styles; expected one per style")
    if any(not torch.isfinite(torch.tensor(w)) or w < 0 for w in weights):
        raise UserError(f"style weights: {weights} must be finite and non-negative")
    total = sum(weights)
    if total <= 0:
        raise UserError(f"style weights: {weights} sum to zero; expected a positive sum")
    return [w / total for w in weights]


def blend_stats(stats: Sequence[FeatureStats], weights: Sequence[float]) -> FeatureStats:
    """Weighted average of style statistics.

    Interpolating AdaIN outputs, Σ_k w_k·AdaIN(c, s_k) with Σ w_k = 1 (the paper's style
    interpolation), equals AdaIN(c, ·) with the weighted mean Σ w_k μ_k and weighted std
    Σ w_k σ_k, because AdaIN is affine in (μ, σ).  So a blend costs one AdaIN, not K.
    """
    mean = sum(w * s.mean for w, s in zip(weights, stats))
    std = sum(w * s.std for w, s in zip(weights, stats))
    palettes = [s.palette for s in stats]
    palette = blend_stats(palettes, weights) if all(p is not None for p in palettes) else None
    skips = None
    if all(s.skips is not None for s in stats):
        skips = {tap: blend_stats([s.skips[tap] for s in stats], weights) for tap in stats[0].skips}
    return FeatureStats(mean, std, palette, skips)


def masked_adain(
    content_feat: torch.Tensor,
    styles: Sequence[FeatureStats],
    masks: torch.Tensor,
    eps: float = EPS,
    region_stats: Sequence[FeatureStats] | None = None,
) -> torch.Tensor:
    """Spatial control: each region of the content gets its own style.

    Args:
        content_feat: (N, C, H, W) content features.
        styles: K style statistics, each (N|1, C, 1, 1).
        masks: (N, K, h, w) soft masks in [0, 1], one channel per style, at any resolution;
            they are resized to (H, W) with area averaging.
        region_stats: K content statistics per region if already known (a tile of a larger
            image takes the whole image's, see adain.inference.tiling); default: from `content_feat`.

    Returns:
        (N, C, H, W) features.  Region k is normalised with the content statistics *of that
        region* and given style k's statistics.  Where the masks sum to m ≤ 1 a position is
        blended with the content, Σ_k m_k·t_k + (1 − m)·c (a grey of 0.05 gives 5 % of the
        style, no mask the content itself); where they overlap (m > 1) the styles are averaged
        by their weights, Σ_k m_k·t_k / m.
    """
    if masks.shape[1] != len(styles):
        raise UserError(f"masks: got {masks.shape[1]} masks for {len(styles)} styles")
    content = content_feat.float()
    masks = F.interpolate(masks.float(), size=content.shape[-2:], mode="area")  # (N, K, H, W)
    out = torch.zeros_like(content)
    for k, style_stats in enumerate(styles):
        region = masks[:, k : k + 1]  # (N, 1, H, W)
        stats = region_stats[k] if region_stats is not None else mean_std(content, weight=region, eps=eps)
        transferred = (content - stats.mean) / normalising_std(stats) * style_stats.std + style_stats.mean
        out = out + region * transferred
    coverage = masks.sum(dim=1, keepdim=True)  # (N, 1, H, W)
    return (out + (1 - coverage).clamp_min(0) * content) / coverage.clamp_min(1)


def palette_vector(stats: FeatureStats) -> torch.Tensor:
    """An image's RGB statistics → the decoder's palette input (N, 6, 1, 1): means, then stds."""
    return torch.cat([stats.mean, stats.std], dim=1).float()


def palette_needs_content(masks: torch.Tensor | None, alpha: float) -> bool:
    """Whether `palette_map` uses the content's palette: only under masks or at α < 1."""
    return masks is not None or alpha != 1.0


def palette_map(styles: Sequence[FeatureStats], content_palette: FeatureStats | None, size: tuple[int, int],
                weights: Sequence[float] | None = None, masks: torch.Tensor | None = None,
                alpha: float = 1.0) -> torch.Tensor:
    """The palette a palette decoder is given, built the way `transfer` builds its AdaIN target.

    Args:
        styles: K style statistics whose `palette` is set (AdaINModel.style_stats).
        content_palette: the content's RGB statistics (N|1, 3, 1, 1) each — the palette of the
            parts the style does not reach (α < 1, outside the masks); may be None where
            `palette_needs_content` says it is not used.
        size: (h, w) of the relu4_1 features, the resolution of a masked map.
        weights / masks / alpha: as AdaINModel.transfer; masks (N, K, H, W) at any resolution,
            area-averaged to `size` like `masked_adain`'s.

    Returns:
        (N, 6, 1, 1) without masks: the styles' palettes blended by `weights`; (N, 6, h, w) with
        masks: Σ_k m_k·p_k + (1 − m)·p_c where the masks sum to m ≤ 1, Σ_k m_k·p_k / m where they
        overlap; either mixed with the content's as α·p + (1 − α)·p_c.
    """
    if any(s.palette is None for s in styles):
        raise UserError("palette decoder: a style's statistics carry no palette; compute them with "
                        "AdaINModel.style_stats")
    if not palette_needs_content(masks, alpha):
        return palette_vector(blend_stats([s.palette for s in styles], normalise_weights(weights, len(styles))))
    if content_palette is None:
        raise ValueError("palette_map: masks or α < 1 need the content's palette")
    content = palette_vector(content_palette)
    if masks is None:
        palette = palette_vector(blend_stats([s.palette for s in styles], normalise_weights(weights, len(styles))))
    else:
        masks = F.interpolate(masks.float(), size=size, mode="area")  # (N, K, h, w)
        palette = sum(masks[:, k:k + 1] * palette_vector(s.palette) for k, s in enumerate(styles))
        coverage = masks.sum(dim=1, keepdim=True)
        palette = (palette + (1 - coverage).clamp_min(0) * content) / coverage.clamp_min(1)
    return alpha * palette + (1.0 - alpha) * content


def mix_content(transferred: torch.Tensor, content_feat: torch.Tensor, alpha: float) -> torch.Tensor:
    """Content–style trade-off: α·t + (1 − α)·c, α in [0, 1]."""
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha: {alpha} is outside [0, 1]")
    if alpha == 1.0:  # the default: no full-size temporaries (three of them at relu1_1 for a skip decoder)
        return transferred
    return alpha * transferred + (1.0 - alpha) * content_feat.float()


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by the number of positions: G = F·Fᵀ / (H·W).

    (N, C, H, W) → (N, C, C), float32.
    """
    flat = rearrange(feat.float(), "n c h w -> n c (h w)")
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


# --- colour preservation ------------------------------------------------------------------

def color_statistics(image: torch.Tensor, rows: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """An image's colour mean (N, 3, 1) and covariance (N, 3, 3), float64, from (N, 3, H, W),
    accumulated over bands of `rows` rows (a float64 copy of one band at a time, not of the image)."""
    count, total = 0, image.new_zeros(image.shape[0], 3, 1, dtype=torch.float64)
    outer = image.new_zeros(image.shape[0], 3, 3, dtype=torch.float64)
    for band in image.split(rows, dim=2):
        pixels = rearrange(band.double(), "n c h w -> n c (h w)")
        count += pixels.shape[-1]
        total += pixels.sum(dim=2, keepdim=True)
        outer += pixels @ pixels.transpose(1, 2)
    mean = total / count
    return mean, outer / count - mean @ mean.transpose(1, 2)


def sym_power(matrix: torch.Tensor, power: float, eps: float) -> torch.Tensor:
    """Power of a symmetric positive semi-definite (N, 3, 3) matrix via its eigenbasis."""
    values, vectors = torch.linalg.eigh(matrix)
    values = values.clamp_min(eps) ** power
    return vectors @ torch.diag_embed(values) @ vectors.transpose(1, 2)


def mixed_color_statistics(stats: Sequence[tuple[torch.Tensor, torch.Tensor]],
                           weights: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """The colour mean and covariance of a mixture of images' pixels, image i drawn with weight
    w_i (weights normalised): μ = Σ w_i μ_i, Σ = Σ w_i (Σ_i + μ_i μ_iᵀ) − μ μᵀ.  Each entry of
    `stats` is (mean (1, 3, 1), covariance (1, 3, 3)); so is the result."""
    total = float(sum(weights))
    mean = sum(w / total * m for w, (m, _) in zip(weights, stats))
    second = sum(w / total * (c + m @ m.transpose(1, 2)) for w, (m, c) in zip(weights, stats))
    return mean, second - mean @ mean.transpose(1, 2)


def color_transform(source_stats: tuple[torch.Tensor, torch.Tensor], target_stats: tuple[torch.Tensor, torch.Tensor],
                    eps: float = 1e-6, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The affine colour map x' = A·x + b that takes colours of mean μ_s and covariance Σ_s to μ_t
    and Σ_t: A = Σ_t^{1/2} Σ_s^{-1/2} (N, 3, 3) and b = μ_t − A·μ_s (N, 3, 1), float64."""
    mean_s, cov_s = (t.to(device, torch.float64) for t in source_stats)
    mean_t, cov_t = (t.to(device, torch.float64) for t in target_stats)
    transform = sym_power(cov_t, 0.5, eps) @ sym_power(cov_s, -0.5, eps)
    return transform, mean_t - transform @ mean_s


def recolor(image: torch.Tensor, source_stats: tuple[torch.Tensor, torch.Tensor],
            target_stats: tuple[torch.Tensor, torch.Tensor], eps: float = 1e-6) -> torch.Tensor:
    """x' = A·(x − μ_s) + μ_t with A = Σ_t^{1/2} Σ_s^{-1/2}: colours of mean μ_s and covariance Σ_s
    (source_stats, the image's own: (N|1, 3, 1), (N|1, 3, 3)) take μ_t and Σ_t (target_stats).
    (N, 3, H, W) in, the same out in the image's dtype, *not* clamped.  Applied to the tiles of one
    image with the whole image's statistics, it gives the tiles of the recoloured image."""
    transform, offset = color_transform(source_stats, target_stats, eps, image.device)
    # applied in float32 unless the image is float64 (one float32 copy of a large image, not float64 ones)
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    offset, transform = offset.to(work), transform.to(work)
    pixels = rearrange(image.to(work), "n c h w -> n c (h w)")
    matched = torch.baddbmm(offset.expand(pixels.shape[0], -1, -1), transform.expand(pixels.shape[0], -1, -1), pixels)
    return rearrange(matched, "n c (h w) -> n c h w", h=image.shape[2]).to(image.dtype)


def match_color(source: torch.Tensor, target: torch.Tensor | None, eps: float = 1e-6,
                target_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Colour histogram matching by mean/covariance transfer (Gatys et al. 2016, §2.1).

    Returns x' = A·(x − μ_s) + μ_t with A = Σ_t^{1/2} Σ_s^{-1/2} (symmetric square roots), so
    the source's pixel colours take the target's mean and covariance.  Used before encoding to
    bring the style image into the content's colour space.

    Args:
        source: (N, 3, H, W) image to recolour (the style).
        target: (N|1, 3, h, w) image whose colour statistics to take (the content).
        target_stats: its colour mean (N|1, 3, 1) and covariance (N|1, 3, 3), float64, if
            already known (accumulated over tiles by adain.inference.tiling); `target` is then unused.

    Returns:
        (N, 3, H, W) in the source's dtype, *not* clamped (clamp before encoding).
    """
    return recolor(source, color_statistics(source),
                   target_stats if target_stats is not None else color_statistics(target), eps)


# ITU-R BT.601 YIQ, the colour space of Gatys et al.'s luminance-only transfer.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB → (N, 3, H, W) YIQ; Y is the luminance in [0, 1]."""
    matrix = _RGB_TO_YIQ.to(image.device, torch.float32)
    return torch.einsum("ij,njhw->nihw", matrix, image.float())


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) YIQ → (N, 3, H, W) RGB (not clamped)."""
    matrix = torch.linalg.inv(_RGB_TO_YIQ).to(image.device, torch.float32)
    return torch.einsum("ij,njhw->nihw", matrix, image.float())


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB → (N, 1, H, W) luminance Y."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style_luma: torch.Tensor, content_luma: torch.Tensor | None,
                    content_stats: FeatureStats | None = None) -> torch.Tensor:
    """Shift/scale the style luminance to the content's mean and std (Gatys et al. 2016, §2.2).

    (N, 1, H, W), (N|1, 1, h, w) → (N, 1, H, W).  `content_stats` (mean/std (N|1, 1, 1, 1),
    std including eps 1e-8) replaces `content_luma` when already known (adain.inference.tiling).
    """
    s = mean_std(style_luma, eps=1e-8)
    c = content_stats if content_stats is not None else mean_std(content_luma, eps=1e-8)
    return (style_luma.float() - s.mean) / s.std * c.std + c.mean


def combine_luminance(stylised_rgb: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """Keep the stylised image's luminance and the content's chroma (I, Q).

    (N, 3, H, W) each → (N, 3, H, W) RGB, not clamped.
    """
    yiq = rgb_to_yiq(content_rgb)
    yiq = torch.cat([luminance(stylised_rgb), yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq)


def luminance_statistics(color_mean: torch.Tensor, color_cov: torch.Tensor) -> FeatureStats:
    """Mean/std of the luminance Y = y·rgb from the colour statistics: μ_Y = y·μ, σ²_Y = yᵀΣy
    (eps 1e-8 as match_luminance uses), each (1, 1, 1, 1) float32."""
    y = rgb_to_yiq(torch.eye(3).view(1, 3, 3, 1))[0, 0, :, 0].double()  # (3,) luminance weights
    mean = (y @ color_mean[0, :, 0]).view(1, 1, 1, 1)
    var = (y @ color_cov[0] @ y).view(1, 1, 1, 1)
    return FeatureStats(mean.float(), (var + 1e-8).sqrt().float())
