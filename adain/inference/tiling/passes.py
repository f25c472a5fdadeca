"""The two passes of tiled stylisation (see adain.inference.tiling): `content_statistics`
accumulates the whole image's relu4_1 statistics tile by tile (and keeps its relu4_1 map where the
budget allows); `stylize_tiled` decodes each tile with them."""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import torch

from adain.inference.tiling.buffers import (OutputBuffer, TiledImage, content_palette, keep_half, kept_features,
                                            release_freed_memory)
from adain.inference.tiling.geometry import (decoder_halo_cells, encoder_halo_cells, skip_encoder_halo_cells, tap_stride,
                                             tile_grid)
from adain.nn import functional as AF
from adain.nn.decoder import DECODER_TOP_TAP
from adain.nn.model import STRIDE, AdaINModel


MOMENT_CHANNELS = 16  # channels per float64 chunk in _RegionMoments.add


class _RegionMoments:
    """Σw, Σw·x, Σw·x² per region and channel of one feature map, accumulated over tiles in
    float64; `stats` gives what functional.mean_std (weighted by each region) gives untiled."""

    def __init__(self, regions: int):
        self.weight_sum = torch.zeros(regions, 1, dtype=torch.float64)
        self.first = self.second = None  # each (regions, C)

    def add(self, valid: torch.Tensor, weights: torch.Tensor) -> None:
        """valid (C, h, w) features, weights (K, h, w) float64 region weights."""
        self.weight_sum += weights.sum(dim=(1, 2)).unsqueeze(1)
        # in float64 a few channels at a time: a whole relu1_1 tile and its square would be two
        # 512 B-per-pixel copies
        first, second = [], []
        for chunk in valid.split(MOMENT_CHANNELS):
            chunk = chunk.double()
            first.append(torch.einsum("khw,chw->kc", weights, chunk))
            second.append(torch.einsum("khw,chw->kc", weights, chunk.square_()))
        self._accumulate(torch.cat(first, dim=1), torch.cat(second, dim=1))

    def add_unweighted(self, valid: torch.Tensor) -> None:
        """valid (C, h, w) features of the one region there is without masks: their float32 mean
        and variance in one pass (no temporaries), accumulated as sums in float64."""
        var, mean = torch.var_mean(valid.float(), dim=(1, 2), correction=0)  # (C,) each
        count = valid.shape[1] * valid.shape[2]
        self.weight_sum += count
        mean, var = mean.double().unsqueeze(0), var.double().unsqueeze(0)  # (1, C)
        self._accumulate(count * mean, count * (var + mean.square()))

    def _accumulate(self, first: torch.Tensor, second: torch.Tensor) -> None:
        self.first = first if self.first is None else self.first + first
        self.second = second if self.second is None else self.second + second

    def stats(self, eps: float) -> list[AF.FeatureStats]:
        total = self.weight_sum.clamp_min(1e-8)  # as functional.mean_std clamps an empty region
        mean = self.first / total
        # Σw(x − μ)² = Σw·x² − 2μΣw·x + μ²Σw, divided by the same clamped total as mean_std
        var = ((self.second - 2 * mean * self.first + mean.square() * self.weight_sum) / total).clamp_min(0)
        return [AF.FeatureStats(mean[k].view(1, -1, 1, 1).float(), (var[k] + eps).sqrt().view(1, -1, 1, 1).float())
                for k in range(mean.shape[0])]


def content_statistics(model: AdaINModel, image: TiledImage, tile: int, masks: torch.Tensor | None = None,
                       transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       keep_features: bool = False, feature_dtype: torch.dtype | None = None,
                       eps: float = AF.EPS, masks_at_taps: dict[str, torch.Tensor] | None = None,
                       ) -> tuple[list[AF.FeatureStats], torch.Tensor | None]:
    """Pass 1: relu4_1 mean/std of the whole image, accumulated tile by tile in float64 — and,
    for a skip decoder, those of its skip taps too.

    Args:
        masks: (1, K, h, w) region weights at relu4_1's size (`mask_cells`), or None.
        transform: applied to each (1, 3, h, w) crop before encoding (luminance-only transfer, or
            the content recoloured to the style's colours).
        keep_features: also return the whole relu4_1 map, so that pass 2 need not re-encode.
        feature_dtype: how to keep it: the model's dtype (None), or float16 for a float32 model,
            half the bytes (`keep_half`; pass 2 reads it back with `kept_features`).
        masks_at_taps: a skip decoder's masks at each skip tap's size (`tap_masks`), with masks.

    Returns:
        One FeatureStats per mask region (one without masks), each (1, C, 1, 1) float32, equal
        to functional.mean_std (weighted by the region) of the untiled feature map, with the
        skip taps' as its `skips` for a skip decoder; and that map (1, C, h, w) in the model's
        dtype, or None.
    """
    skip_taps = model.skip_taps
    if masks is not None and skip_taps and masks_at_taps is None:
        raise ValueError("content_statistics: a skip decoder with masks needs masks_at_taps (tiling.tap_masks)")
    halo = encoder_halo_cells(model.decoder.arch)
    regions = 1 if masks is None else masks.shape[1]
    moments = {tap: _RegionMoments(regions) for tap in (DECODER_TOP_TAP, *skip_taps)}
    features = None
    for centre in tile_grid(image.cells, tile):
        crop = centre.grown(halo, image.cells)
        rgb = image.crop(*crop.pixels())

        def add_moments(tap: str, feat: torch.Tensor) -> None:
            scale = STRIDE // tap_stride(tap) if tap != DECODER_TOP_TAP else 1  # tap positions per cell
            valid = feat[0, :, (centre.top - crop.top) * scale:(centre.bottom - crop.top) * scale,
                         (centre.left - crop.left) * scale:(centre.right - crop.left) * scale]  # (C, h, w)
            if masks is None:
                moments[tap].add_unweighted(valid)
            else:
                tap_mask = masks if tap == DECODER_TOP_TAP else masks_at_taps[tap]
                moments[tap].add(valid, tap_mask[0, :, centre.top * scale:centre.bottom * scale,
                                                 centre.left * scale:centre.right * scale].double())  # (K, h, w)

        # the maps no later tap needs are reduced as soon as the encoder computes them (relu1_1:
        # 256 B per pixel in float32 not held through the deeper layers)
        feats = model.encode_all(transform(rgb) if transform else rgb,  # {tap: (1, C, crop h·f, crop w·f)}
                                 summarise={tap: functools.partial(add_moments, tap) for tap in skip_taps})
        feat = feats[DECODER_TOP_TAP]
        add_moments(DECODER_TOP_TAP, feat)
        if keep_features:
            if features is None:
                features = feat.new_empty(1, feat.shape[1], *image.cells, dtype=feature_dtype or feat.dtype)
            features[..., centre.top:centre.bottom, centre.left:centre.right] = keep_half(
                feat[..., centre.top - crop.top:centre.bottom - crop.top,
                     centre.left - crop.left:centre.right - crop.left], features.dtype)
        del feats, feat, rgb
        release_freed_memory()
    stats = moments[DECODER_TOP_TAP].stats(eps)
    if skip_taps:
        at_taps = {tap: moments[tap].stats(eps) for tap in skip_taps}
        stats = [AF.FeatureStats(s.mean, s.std, s.palette, {tap: at_taps[tap][k] for tap in skip_taps})
                 for k, s in enumerate(stats)]
    return stats, features


def stylize_tiled(
    model: AdaINModel,
    image: TiledImage,
    styles: Sequence[AF.FeatureStats],
    content_stats: Sequence[AF.FeatureStats],
    tile: int,
    weights: Sequence[float] | None = None,
    masks: torch.Tensor | None = None,
    alpha: float = 1.0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    finish: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    as_tensor: bool = False,
    features: torch.Tensor | None = None,
    masks_at_taps: dict[str, torch.Tensor] | None = None,
) -> OutputBuffer:
    """Pass 2: stylise tile by tile with the global `content_stats` of pass 1.

    Args:
        styles / weights / alpha: as AdaINModel.transfer.
        masks: (1, K, h, w) at relu4_1's size (`mask_cells`), or None.
        transform: network input from a (1, 3, h, w) crop (luminance-only transfer, or the
            content recoloured to the style's colours), or None.
        finish: (stylised tile, content tile) → output tile, e.g. putting back the content's
            chroma; both (1, 3, h, w) float32.
        as_tensor: fill a float tensor instead of a uint8 array.
        features: the whole relu4_1 map kept by pass 1, (1, C, h, w); None: re-encode each tile.
            A skip decoder given the map still re-encodes each tile, but only up to its deepest
            skip tap (relu3_1: about half the encoder's work, a halo of 2 cells instead of 4).
        masks_at_taps: a skip decoder's masks at each skip tap's size (`tap_masks`), with masks.
    """
    skip_taps = model.skip_taps
    if masks is not None and skip_taps and masks_at_taps is None:
        raise ValueError("stylize_tiled: a skip decoder with masks needs masks_at_taps (tiling.tap_masks)")
    arch = model.decoder.arch
    decoder_halo = decoder_halo_cells(arch, model.decoder.upsample)
    # cells of image around the decoded ones that the encoder needs for what pass 2 encodes
    encoder_halo = encoder_halo_cells(arch) if features is None else skip_encoder_halo_cells(model)
    out = OutputBuffer(image.height, image.width, as_tensor)
    # a palette decoder's content palette, where α or masks use it: of the whole image, as the
    # untiled run takes it (one more pass over the uint8 image, so only then)
    # of the network's input: the content as the transform makes it, band by band
    whole_palette = (content_palette(image, transform=transform)
                     if model.takes_palette and AF.palette_needs_content(masks, alpha) else None)
    for centre in tile_grid(image.cells, tile):
        # only cells within the decoder halo are decoded; those further out are not exact anyway
        decoded = centre.grown(decoder_halo, image.cells)
        tile_masks = None if masks is None else masks[..., decoded.top:decoded.bottom, decoded.left:decoded.right]
        net_input, offset, tile_tap_masks = None, (0, 0), None
        feats = {}
        if features is not None:
            feats[DECODER_TOP_TAP] = kept_features(
                features[..., decoded.top:decoded.bottom, decoded.left:decoded.right], model.dtype)
        if features is None or skip_taps:
            crop = decoded.grown(encoder_halo, image.cells)
            rgb = image.crop(*crop.pixels())
            net_input = model.network_input(transform(rgb) if transform else rgb)  # for the encoder and relu1_1
            # relu1_1 is recomputed where the skip inputs fold (no masks): pass 1 has its statistics
            unused = {tap: lambda feat: None for tap in model.folded_skip_taps(masks)}
            # {tap: (1, C, crop h·f, crop w·f)}; relu4_1 too unless pass 1 kept it
            encoded = model.encode_all(net_input, unused, with_top=features is None)
            feats.update({tap: f[..., (decoded.top - crop.top) * scale:(decoded.bottom - crop.top) * scale,
                                 (decoded.left - crop.left) * scale:(decoded.right - crop.left) * scale]
                          for tap, f in encoded.items() if tap not in unused
                          for scale in [STRIDE // tap_stride(tap) if tap != DECODER_TOP_TAP else 1]})
            del encoded
            offset = ((decoded.top - crop.top) * STRIDE, (decoded.left - crop.left) * STRIDE)
            if skip_taps and masks is not None:
                tile_tap_masks = {tap: masks_at_taps[tap][..., decoded.top * scale:decoded.bottom * scale,
                                                          decoded.left * scale:decoded.right * scale]
                                  for tap in skip_taps for scale in [STRIDE // tap_stride(tap)]}
        inputs = model.decoder_inputs(feats, styles, weights, tile_masks, alpha, content_stats, whole_palette,
                                      image=net_input, offset=offset, tap_masks=tile_tap_masks)
        del feats, net_input
        rgb_out = model.decode(inputs)  # (1, 3, 8·decoded h, 8·decoded w) float32
        del inputs
        top, bottom, left, right = centre.pixels()
        rgb_out = rgb_out[..., top - decoded.top * STRIDE:bottom - decoded.top * STRIDE,
                          left - decoded.left * STRIDE:right - decoded.left * STRIDE]
        if finish is not None:
            rgb_out = finish(rgb_out, image.crop(top, bottom, left, right))
        out.write(top, left, rgb_out)
        del rgb_out
        release_freed_memory()
    return out
