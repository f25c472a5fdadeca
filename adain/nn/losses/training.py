"""Training losses, one per paper term.

AdaIN (Huang & Belongie 2017, §6.2): `content_loss`, `style_stats_loss`, and their scale-free
forms `relative_content_loss`, `relative_style_stats_loss`; `colour_stats_loss` (the same mean/std
matching on the pixels: relu1_1's 64 statistics do not pin the palette); `sliced_wasserstein_loss` (the whole
distribution of the pixels or of a layer's features, not only its mean/std: Heitz et al. 2021,
"A sliced Wasserstein loss for neural texture synthesis"); `texture_floor_loss` (the style's texture
energy in every window, flat regions included).
Johnson et al. (2016, §3): `feature_loss`, `gram_style_loss`, `total_variation_loss`.

Features are dicts {tap: (N, C, H, W)} from the encoder.  MSE is the mean over all elements.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS
from adain.nn.functional import FeatureStats, gram, mean_std
from adain.nn.losses.distances import relative_content, relative_style_stats


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


def relative_content_loss(output_feats: Mapping[str, torch.Tensor], target: torch.Tensor,
                          tap: str = CONTENT_TAP) -> torch.Tensor:
    """L_c / ‖t‖² per sample, averaged over the batch: the content term as a fraction of the
    target's own energy, so that its weight does not depend on the encoder's activation scale.
    The batch mean of design.md's relative content number (`adain.nn.losses.distances.relative_content`)."""
    return relative_content(output_feats[tap], target).mean()


def relative_style_stats_loss(output_feats: Mapping[str, torch.Tensor], style_stats: Mapping[str, FeatureStats],
                              taps: Sequence[str] = STYLE_TAPS) -> torch.Tensor:
    """Σ_l (‖Δμ_l‖² + ‖Δσ_l‖²) / (‖μ_l(s)‖² + ‖σ_l(s)‖²) per sample, averaged over the batch: the
    batch mean of design.md's relative style number (`adain.nn.losses.distances.relative_style_stats`).

    Why scale-free: `vgg16-hed` is not a "normalised" VGG like the paper's (whose layers were
    rescaled to a mean activation of 1), and its raw statistics differ ~30× between layers
    (‖μ,σ‖² ≈ 1,900 / 4,000 / 770 / 120 at relu1_1…relu4_1 on the val styles), so the raw loss is
    mostly relu1_1/relu2_1 and outweighs the content term ~40 : 1 at λ = 10.  Normalising each
    layer by the style's own energy gives every layer, and the content term, a weight that means
    the same for every style.
    """
    return relative_style_stats({tap: mean_std(output_feats[tap]) for tap in taps}, style_stats, taps).mean()


def colour_stats_loss(output: torch.Tensor, style: torch.Tensor, std_weight: float = 1.0) -> torch.Tensor:
    """Σ_c (μ_c(out) − μ_c(s))² + std_weight · (σ_c(out) − σ_c(s))² over the RGB channels, per
    sample, averaged over the batch: the style loss's mean/std matching applied to the pixels
    themselves, in [0, 1] units.  (N, 3, H, W), (N, 3, h, w) → scalar; the images may differ in size.
    A palette 0.1 too dark in every channel costs 0.03.  The spread half pays a decoder whose output
    is flatter than the painting for contrast wherever it is cheapest — as rims along edges
    (experiments/eval/artefacts/README.md, flaw slopes); std_weight 0 leaves the means."""
    out, target = mean_std(output.float()), mean_std(style.float())
    per_sample = ((out.mean - target.mean).square().sum(dim=(1, 2, 3))
                  + std_weight * (out.std - target.std).square().sum(dim=(1, 2, 3)))
    return per_sample.mean()


def sliced_wasserstein_loss(output: torch.Tensor, style: torch.Tensor, projections: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Sliced Wasserstein-2 distance between the per-position vectors of `output` and `style`
    (image by image), relative to the styles' energy along the same directions.

    (N, C, H, W), (N, C, h, w) → scalar.  Each of `projections` random unit directions in C
    dimensions (the same for the whole batch, drawn afresh each call) turns the H·W vectors of
    an image into H·W numbers; sorted, they are that direction's quantiles, and the loss is the
    mean squared difference of the output's and the style's quantiles (the style's interpolated
    to H·W when the sizes differ) over the mean square of the style's, both over the whole batch:
    scale-free across layers, and a dark style cannot blow up its own sample's term (a per-sample
    ratio lets a near-black style's tiny energy turn its term into a divergent spike).  A
    bimodal palette (blue and white under an orange sky) has the same mean/std as a grey blend of
    it; its quantiles do not, which is why the AdaIN and colour mean/std losses let decoders paint
    such styles in the photo's own colours (tools/style_gap.py).  The style side gets no gradient;
    the sort passes the output's gradient back to the positions it came from.
    """
    channels = output.shape[1]
    directions = torch.randn(channels, projections, generator=generator, device=output.device)
    directions = directions / directions.norm(dim=0, keepdim=True)  # (C, K) unit columns
    out = torch.einsum("nchw,ck->nkhw", output.float(), directions).flatten(2).sort(dim=2).values  # (N, K, H·W)
    with torch.no_grad():
        ref = torch.einsum("nchw,ck->nkhw", style.float(), directions).flatten(2).sort(dim=2).values  # (N, K, h·w)
        if ref.shape[2] != out.shape[2]:  # quantiles at the output's count of positions
            ref = F.interpolate(ref, size=out.shape[2], mode="linear", align_corners=True)
    return (out - ref).square().mean() / ref.square().mean().clamp_min(1e-8)


def window_energy(features: torch.Tensor, window: int) -> torch.Tensor:
    """Local texture energy: Σ_c of each channel's variance in window × window patches (stride
    window / 2), square-rooted.  (N, C, H, W) → (N, 1, h, w).  Summing over channels keeps channels
    that are silent in a painting from dividing by ~0."""
    stride = max(1, window // 2)
    # Centred per channel first: E[x²] − E[x]² of raw ReLU features (means ~50, small spreads) would
    # lose the variance to rounding.
    features = features - features.mean(dim=(-2, -1), keepdim=True)
    mean = F.avg_pool2d(features, window, stride)
    variance = (F.avg_pool2d(features.square(), window, stride) - mean.square()).clamp_min(0)
    return variance.sum(dim=1, keepdim=True).add(1e-12).sqrt()


def texture_floor_loss(output_feats: Mapping[str, torch.Tensor], style_feats: Mapping[str, torch.Tensor],
                       taps: Sequence[str], window: int, quantile: float, image_width: int) -> torch.Tensor:
    """Σ_l mean over windows of relu(1 − E_l(out) / E_l^q(s))²: every window of the output must hold
    at least the texture energy (`window_energy`) that the style's windows reach at `quantile` of
    their distribution, image by image.

    `window` is in image pixels (a tap at 1/2^k resolution uses window / 2^k, at least 2, and at
    most the smaller side of the output's or the style's map there: a crop smaller than a window is
    one window, on both sides).

    Why: mean/std and sliced-Wasserstein terms price the whole image's statistics, which the style's
    texture on the photo's edges and busy regions can meet alone; in the photo's flat regions
    decoders trained with them paint 20–40 px patches (the blotch measure, adain.evaluation.flaws)
    with 0.54 of the style's median window energy at relu1_1, where Magenta's model lays 0.84
    (experiments/eval/artefacts/flat_texture.py).  One-sided: texture above the floor costs nothing.
    In [0, 1] per tap, whatever the layer's scale; the style side gets no gradient.
    """
    total = torch.zeros((), device=next(iter(output_feats.values())).device)
    for tap in taps:
        out, style = output_feats[tap].float(), style_feats[tap].float()
        tap_window = min(max(2, round(window * out.shape[-1] / image_width)), *out.shape[-2:], *style.shape[-2:])
        energy = window_energy(out, tap_window)  # (N, 1, h, w)
        with torch.no_grad():
            reference = window_energy(style, tap_window)
            floor = reference.flatten(1).quantile(quantile, dim=1).clamp_min(1e-6)  # (N,)
        total = total + (1 - energy / floor.view(-1, 1, 1, 1)).clamp_min(0).square().mean()
    return total


def relative_feature_loss(output_feats: Mapping[str, torch.Tensor], target_feats: Mapping[str, torch.Tensor],
                          taps: Sequence[str] = STYLE_TAPS) -> torch.Tensor:
    """Σ_l ‖φ_l(out) − φ_l(target)‖² / ‖φ_l(target)‖² per sample, averaged over the batch: a
    perceptual reconstruction loss in which every layer counts the same, whatever its scale
    (design.md's relative content number at each tap, summed)."""
    return sum(relative_content(output_feats[tap], target_feats[tap]).mean() for tap in taps)


def structure_loss(output_feats: Mapping[str, torch.Tensor], content_feats: Mapping[str, torch.Tensor],
                   taps: Sequence[str]) -> torch.Tensor:
    """Σ_l ‖norm(φ_l(out)) − norm(φ_l(c))‖² over `taps`, MSE per layer, with norm the per-channel
    instance normalisation (zero mean, unit std over space): the content's layout at each layer,
    free of its statistics (SANet and AdaAttN use the same form at
    relu4_1/relu5_1).  It does not fight the style loss, which prices only those statistics: the
    feature AdaIN(φ_l(c), φ_l(s)) satisfies both exactly; what it prices is texture that moves
    the content's edges.  Normalised features have unit energy per element, so the term is
    already scale-free (no relative form needed)."""
    return sum(F.mse_loss(_normalised(output_feats[tap]), _normalised(content_feats[tap])) for tap in taps)


def _normalised(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → fp32 (N, C, H, W) with zero mean and unit std per channel over space."""
    stats = mean_std(feat)
    return (feat.float() - stats.mean) / stats.std


def feature_loss(output_feats: Mapping[str, torch.Tensor], content_feats: Mapping[str, torch.Tensor],
                 tap: str) -> torch.Tensor:
    """Johnson et al. (2016) eq. (2), feature reconstruction: ‖φ_j(ŷ) − φ_j(y_c)‖² / (C·H·W) at one
    tap (the paper: relu2_2), as an MSE."""
    return F.mse_loss(output_feats[tap].float(), content_feats[tap].float())


def gram_style_loss(output_feats: Mapping[str, torch.Tensor], style_grams: Mapping[str, torch.Tensor],
                    taps: Sequence[str], layer_weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Johnson et al. (2016) eq. (4), style reconstruction: Σ_j w_j·‖G_j(ŷ) − G_j(y_s)‖²_F.

    G_j = F·Fᵀ / (H·W) is `adain.nn.functional.gram` (the paper also divides by C); the squared
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
