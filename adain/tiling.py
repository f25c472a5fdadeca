"""Tiled AdaIN: any image size in memory bounded by the tile, with *global* AdaIN statistics.

    image = TiledImage(np.asarray(pil))                      # (H, W, 3) uint8, kept as is
    stats = content_statistics(model, image, tile=1024)      # pass 1: encoder only
    out = stylize_tiled(model, image, [style_stats], stats, tile=1024)   # pass 2 → (H, W, 3) uint8

Why tiles cannot show seams.  The untiled run (AdaINModel.forward) reflection-pads the image to a
multiple of 8 and runs convolutions whose padding only touches the *image's* edges.  A tile's
inner edges get padding the untiled run does not have, but its effect only reaches as far as
the receptive field, so we give every tile a halo and keep only its centre:

  encoder (3×3 convs, 2×2 pools, up to relu4_1): the field of relu4_1 cell i (pixels 8i … 8i+7)
      is pixels 8i − r … 8i + 7 + r with r = Σ over convs of the stride before it (vgg16: 2·1 +
      2·2 + 3·4 + 1·8 = 26 px, a 60-px field; vgg19: 30 px).  Rounded up to the 8-px grid:
      4 cells = 32 px (`encoder_halo_cells`).
  decoder (3×3 reflect-padded convs, ×2 upsampling): an output pixel of cell i depends on
      cells i − 4 … i + 4 with nearest upsampling (vgg16; vgg19, with one more conv at 1/4
      scale, also 4), i − 5 … i + 5 with bilinear; see `decoder_halo_cells`.

Tiles start and end on multiples of 8 px in the padded image, so every max-pool sees the same
2×2 windows as in the untiled run.  Where a tile touches the image edge the halo is cut off and
the padding there *is* the untiled run's padding.  So each tile's centre equals the untiled
output up to floating-point summation order; tiles are cropped, never blended.

Two passes, so that AdaIN normalises with the statistics of the whole image, not of each tile:
  1. statistics: encode each tile with the encoder halo; accumulate Σw, Σw·x, Σw·x² of the valid
     relu4_1 cells (w: one mask region, or 1) in float64.  Where the budget allows, the valid
     cells are also kept (the whole relu4_1 map, 16 B per image pixel in bf16: 133 MB at 4K).
  2. stylise: take each tile's features with the decoder halo from that map (or re-encode the
     tile with encoder + decoder halo), AdaIN with the global statistics, decode, and write the
     centre into a uint8 (or float) buffer.  A skip decoder also needs the tile's shallow maps:
     re-encoded up to relu3_1 (its field: 10 px, a 2-cell halo) beside the kept relu4_1 cells.
The full image exists only as uint8 (3 B/pixel in, 3 B/pixel out); everything float is per tile.
"""

from __future__ import annotations

import ctypes
import functools
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from adain import functional as AF
from adain.decoder import DECODER_TOP_TAP, decoder_layers
from adain.encoders import ARCHITECTURES
from adain.errors import UserError
from adain.model import STRIDE, AdaINModel, pad_to_multiple

MIN_TILE = 64  # px; below this a tile's halos (64 px a side) would be > 8× its own area
MIN_CACHED_TILE = 256  # px; keep pass 1's features only if tiles can still be this large
LARGE_CACHED_TILE = 1024  # px; tiles this large spend ≤ 13 % on 32-px halos: keep the map exact

# Peak RSS growth of one tile = TILE_FIXED_BYTES + per pixel of the tile *with its halos* (the
# encoder's relu1 and the decoder's last activations, 64 channels), fitted to measured runs on
# CPU: bf16 + channels_last 512² … 1152² tiles; fp32 since in-place ReLUs and convolutions
# without a padded copy (adain.layers.reflect_conv_without_copy): 510 B (encode) and 580 B
# (decode) per pixel of a 768² tile, 650 with a margin; 4K/8K end to end in experiments/bench.
TILE_FIXED_BYTES = 150 << 20  # oneDNN scratch pads, float32 AdaIN copies, allocator slack
TILE_BYTES_PER_PIXEL = {torch.bfloat16: 360, torch.float16: 360, torch.float32: 650}
# A skip decoder's tiles re-encode in pass 2 (up to relu3_1 where pass 1 kept the relu4_1 map, to
# relu4_1 otherwise) and hold the tile's relu2_1 and relu3_1 maps (192 B per pixel of the crop in
# float32) until the decoder has used them; its relu1_1 is recomputed from the image and its AdaINs
# are folded into the projections (adain.skip_inputs).  Measured (experiments/bench/tile_memory.py,
# 1536² fp32, peak RSS against the same decoder without skips): +270 B per pixel of a 784² tile
# re-encoding to relu4_1, ~70–100 with the map kept (SKIP_KEPT_…: 150 gives 560-px tiles at 4K,
# 1.28 GB peak; 512 px at 8K, 1.71 GB; experiments/bench/defaults_4k.txt); +2 B per pixel untiled.  With
# masks the shallow targets are built and held: +380 B per pixel of a tile.  16-bit models hold
# the maps at half the bytes: the same budget (not measured; bf16 is emulated on the AVX2 machine).
SKIP_TILE_BYTES_PER_PIXEL = {torch.bfloat16: 300, torch.float16: 300, torch.float32: 300}
SKIP_KEPT_TILE_BYTES_PER_PIXEL = {torch.bfloat16: 150, torch.float16: 150, torch.float32: 150}
SKIP_MASKED_TILE_BYTES_PER_PIXEL = {torch.bfloat16: 450, torch.float16: 450, torch.float32: 450}
# The untiled path also holds the whole content and output as float32 (12 + 12 B/pixel).
UNTILED_EXTRA_BYTES_PER_PIXEL = 100
# The content and the output stay in memory whole as uint8 (3 + 3 B/pixel), beside the caller's
# decoded content (a PIL image: 4 B/pixel, RGB stored as RGBX).  A content read from a file here
# (`adain stylize`) is decoded, copied to uint8 and its PIL image freed before the first tile:
# 6 B/pixel while tiles run.  At the end the output is copied into a PIL image (4 B/pixel), when
# the tiles and the kept features are gone already.
IMAGE_BYTES_PER_PIXEL = 10
OWN_IMAGE_BYTES_PER_PIXEL = 6
# Without --max-memory, one image may add this much to what the process holds already (libraries,
# weights: 0.65–0.8 GB for torch + vgg16 on the CPU): 0.70 GB for 4K, 1.20 GB for 8K, so that 4K
# peaks within 1.5 GB and 8K within 2 GB (experiments/bench/README.md), with 8K's relu4_1 map kept
# (in float16: 0.53 GB) and tiles large enough that halos cost ~20 %.  On CUDA the budget is the
# GPU's free memory instead.
DEFAULT_HEADROOM_BYTES = 512 << 20
DEFAULT_HEADROOM_PER_PIXEL = 20
GPU_FREE_FRACTION = 0.9  # of the free GPU memory: leave some to the allocator and other work


def encoder_halo_cells(arch: str, tap: str = DECODER_TOP_TAP) -> int:
    """Encoder halo in relu4_1 cells (8 px): the receptive radius of `tap` (relu{b}_1), rounded
    up to the cell grid.

    A 3×3 conv at stride s (relative to the image) widens the field by s px on each side; a
    2×2 pool widens nothing but doubles s.  Up to relu{b}_1: blocks 1 … b−1 and conv{b}_1
    (relu4_1 of vgg16: 26 px → 4 cells; relu3_1: 10 px → 2 cells).
    """
    last_block = int(tap[4])
    radius, stride = 0, 1
    for block, convs in enumerate(ARCHITECTURES[arch][:last_block], start=1):
        radius += stride * (convs if block < last_block else 1)
        stride *= 2
    return math.ceil(radius / STRIDE)


def skip_encoder_halo_cells(model: AdaINModel) -> int:
    """Halo in cells that re-encoding a tile for a skip decoder's shallow maps needs: the
    receptive radius of its deepest skip tap (0 for a decoder without skips)."""
    taps = model.skip_taps
    return max((encoder_halo_cells(model.decoder.arch, tap) for tap in taps), default=0)


def decoder_halo_cells(arch: str, upsample: str = "nearest") -> int:
    """Decoder halo in input cells: how far (in relu4_1 cells) an output pixel of a cell reaches.

    Walk the decoder backwards from the 8 output pixels of cell 0: each conv widens the range by
    one at its scale; each ×2 upsampling maps positions p → p // 2 (nearest) or to the inputs
    ⌊(p − 1) / 2⌋ … ⌊(p + 1) / 2⌋ that bilinear mixes (adain.decoder.upsample2x).
    """
    low, high = 0, STRIDE - 1  # output pixels of cell 0, at full resolution
    for name, _, _ in reversed(decoder_layers(arch)):
        block, index = int(name[3]), int(name[5])
        if index == 1 and block > 1:  # Decoder.forward upsamples ×2 right after this conv
            if upsample == "nearest":
                low, high = low // 2, high // 2
            else:
                low, high = (low - 1) // 2, (high + 1) // 2
        low, high = low - 1, high + 1
    return max(-low, high)


def total_halo(model: AdaINModel) -> int:
    """Pixels of context a pass-2 tile needs on each side (encoder + decoder halo)."""
    arch = model.decoder.arch
    return STRIDE * (encoder_halo_cells(arch) + decoder_halo_cells(arch, model.decoder.upsample))


def kept_map_halo(model: AdaINModel) -> int:
    """Pixels of context per side when pass 1 kept the relu4_1 map: pass 1 encodes with the
    encoder halo; pass 2 decodes with the decoder halo and, for a skip decoder, re-encodes its
    shallow maps with their (smaller) encoder halo around that."""
    arch = model.decoder.arch
    decoder_halo = decoder_halo_cells(arch, model.decoder.upsample)
    skip_halo = decoder_halo + skip_encoder_halo_cells(model) if model.skip_taps else 0
    return STRIDE * max(encoder_halo_cells(arch), decoder_halo, skip_halo)


class TiledImage:
    """The content, read tile by tile, as if reflection-padded to multiples of 8 like the
    untiled run (`pad_to_multiple`).

    `pixels` is (H, W, 3) uint8 (converted per tile, so a 8K image costs 100 MB, not 400 MB of
    float32) or a (1, 3, H, W) float tensor in [0, 1].
    """

    def __init__(self, pixels: np.ndarray | torch.Tensor):
        self.pixels = pixels
        if isinstance(pixels, np.ndarray):
            self.height, self.width = pixels.shape[:2]
        else:
            self.height, self.width = pixels.shape[-2:]
        self.padded_height = -(-self.height // STRIDE) * STRIDE
        self.padded_width = -(-self.width // STRIDE) * STRIDE
        pad_h, pad_w = self.padded_height - self.height, self.padded_width - self.width
        # the same choice as pad_to_multiple: reflect unless the image is smaller than its padding
        self.mode = "reflect" if pad_h < self.height and pad_w < self.width else "replicate"

    @property
    def cells(self) -> tuple[int, int]:
        """Size of the relu4_1 feature map: (H/8, W/8) rounded up."""
        return self.padded_height // STRIDE, self.padded_width // STRIDE

    def _source_index(self, start: int, stop: int, size: int) -> np.ndarray:
        index = np.arange(start, stop)
        if self.mode == "reflect":
            return np.where(index < size, index, 2 * (size - 1) - index)
        return np.minimum(index, size - 1)

    def crop(self, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
        """Rows top:bottom, columns left:right of the padded image → (1, 3, h, w) float32 in [0, 1]."""
        rows = self._source_index(top, bottom, self.height)
        cols = self._source_index(left, right, self.width)
        if isinstance(self.pixels, np.ndarray):
            patch = self.pixels[rows[:, None], cols[None, :]]  # (h, w, 3) uint8, a copy
            return torch.from_numpy(patch).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        return self.pixels[..., torch.from_numpy(rows), :][..., torch.from_numpy(cols)].float()

    def row_chunks(self, rows: int = 256) -> Iterator[torch.Tensor]:
        """The unpadded image in horizontal bands, each (1, 3, ≤rows, W) float32."""
        for top in range(0, self.height, rows):
            yield self.crop(top, min(top + rows, self.height), 0, self.width)


def color_statistics(image: TiledImage) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour mean (1, 3, 1) and covariance (1, 3, 3), float64, of the whole image, band by band
    (what functional._color_mean_cov computes on the full tensor)."""
    count, total, outer = 0, torch.zeros(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
    for band in image.row_chunks():
        pixels = band[0].double().flatten(1)  # (3, rows·W)
        count += pixels.shape[1]
        total += pixels.sum(dim=1)
        outer += pixels @ pixels.T
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    return mean.view(1, 3, 1), cov.unsqueeze(0)


def luminance_statistics(color_mean: torch.Tensor, color_cov: torch.Tensor) -> AF.FeatureStats:
    """Mean/std of the luminance Y = y·rgb from the colour statistics: μ_Y = y·μ, σ²_Y = yᵀΣy
    (eps 1e-8 as functional.match_luminance uses), each (1, 1, 1, 1) float32."""
    y = AF.rgb_to_yiq(torch.eye(3).view(1, 3, 3, 1))[0, 0, :, 0].double()  # (3,) luminance weights
    mean = (y @ color_mean[0, :, 0]).view(1, 1, 1, 1)
    var = (y @ color_cov[0] @ y).view(1, 1, 1, 1)
    return AF.FeatureStats(mean.float(), (var + 1e-8).sqrt().float())


def tap_stride(tap: str) -> int:
    """Pixels per position of a skip tap relu{b}_1: 2^(b − 1) (relu1_1: 1, relu2_1: 2, relu3_1: 4)."""
    return 2 ** (int(tap[4]) - 1)


def tap_masks(masks: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
    """Masks (1, K, H, W) at the content's size → {tap: (1, K, H/s, W/s)} at each skip tap's
    resolution s, as the untiled run sees them (reflection-padded to multiples of 8, then
    averaged over s×s blocks: F.interpolate's "area" on sizes that divide exactly)."""
    padded, _ = pad_to_multiple(masks.float())
    return {tap: F.avg_pool2d(padded, tap_stride(tap)) if tap_stride(tap) > 1 else padded for tap in taps}


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


def content_palette(image: TiledImage, grey: bool = False) -> AF.FeatureStats:
    """The content's RGB mean/std, each (1, 3, 1, 1), as `AF.mean_std` gives them on the whole image
    (a palette decoder's content palette, AdaINModel.forward); `grey`: of its luminance in all three
    channels, the network's input under luminance-only transfer."""
    color_mean, color_cov = color_statistics(image)  # (1, 3, 1), (1, 3, 3) float64
    mean, var = color_mean.view(3), torch.diagonal(color_cov[0])
    if grey:  # Y = y·rgb: μ_Y = y·μ, σ²_Y = yᵀΣy
        y = AF.rgb_to_yiq(torch.eye(3).view(1, 3, 3, 1))[0, 0, :, 0].double()
        mean, var = (y @ mean).expand(3), (y @ color_cov[0] @ y).expand(3)
    return AF.FeatureStats(mean.view(1, 3, 1, 1).float(), (var + AF.EPS).sqrt().view(1, 3, 1, 1).float())


def mask_cells(masks: torch.Tensor) -> torch.Tensor:
    """Masks (1, K, H, W) at the content's size → (1, K, H/8, W/8) at relu4_1's, as the untiled
    run sees them: reflection-padded to multiples of 8, then averaged over each 8×8 cell."""
    padded, _ = pad_to_multiple(masks.float())
    return F.avg_pool2d(padded, STRIDE)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_freed_memory() -> None:
    """Hand the memory freed by the last tile back to the OS.

    glibc keeps freed heap pages mapped, and with two threads its arenas fragment over tiles of
    different shapes, so without this peak RSS creeps up tile by tile (measured: +300 MB over 12
    tiles of a 4K image); malloc_trim releases the free pages of every arena.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True)
class Tile:
    """A tile's valid centre in relu4_1 cells: rows top:bottom, columns left:right."""

    top: int
    bottom: int
    left: int
    right: int

    def grown(self, cells: int, limit: tuple[int, int]) -> "Tile":
        """This tile with `cells` of halo on each side, cut at the feature map's edges."""
        return Tile(max(0, self.top - cells), min(limit[0], self.bottom + cells),
                    max(0, self.left - cells), min(limit[1], self.right + cells))

    def pixels(self) -> tuple[int, int, int, int]:
        return self.top * STRIDE, self.bottom * STRIDE, self.left * STRIDE, self.right * STRIDE


def _even_steps(length: int, step: int) -> list[tuple[int, int]]:
    """[0, length) in the fewest pieces of at most `step`, all about equally long (no thin
    last piece, whose halos would cost more than its own area)."""
    pieces = -(-length // step)
    step = -(-length // pieces)
    return [(start, min(start + step, length)) for start in range(0, length, step)]


def tile_grid(cells: tuple[int, int], tile: int) -> list[Tile]:
    """Cover a (h, w) feature map with centres of at most `tile` px (a multiple of 8), row by row."""
    return [Tile(top, bottom, left, right)
            for top, bottom in _even_steps(cells[0], tile // STRIDE)
            for left, right in _even_steps(cells[1], tile // STRIDE)]


def check_tile(tile: int) -> None:
    """A tile side must sit on the 8-px grid and not be dwarfed by its halos."""
    if tile % STRIDE:
        raise UserError(f"--tile {tile}: expected a multiple of {STRIDE} (the encoder's stride), "
                        f"e.g. {tile // STRIDE * STRIDE or STRIDE}")
    if tile < MIN_TILE:
        raise UserError(f"--tile {tile}: too small; expected at least {MIN_TILE} px "
                        f"(each tile carries a 64-px halo on every side)")


def content_statistics(model: AdaINModel, image: TiledImage, tile: int, masks: torch.Tensor | None = None,
                       transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       keep_features: bool = False, feature_dtype: torch.dtype | None = None,
                       eps: float = AF.EPS, masks_at_taps: dict[str, torch.Tensor] | None = None,
                       ) -> tuple[list[AF.FeatureStats], torch.Tensor | None]:
    """Pass 1: relu4_1 mean/std of the whole image, accumulated tile by tile in float64 — and,
    for a skip decoder, those of its skip taps too.

    Args:
        masks: (1, K, h, w) region weights at relu4_1's size (`mask_cells`), or None.
        transform: applied to each (1, 3, h, w) crop before encoding (luminance-only transfer).
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


# A float32 relu4_1 map kept as float16 is stored × 2⁻⁸: vgg16-imagenet's features reach ~12,000 on
# photos and artworks, too close to float16's 65,504; scaled, the same 11-bit precision (a relative
# rounding error of at most 2⁻¹¹ per value) with room to spare.  A power of two: scaling is exact.
HALF_FEATURE_SCALE = 2.0 ** -8


def keep_half(feat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Features as stored in a kept map of `dtype` (scaled when float32 is kept as float16)."""
    if dtype == torch.float16 and feat.dtype == torch.float32:
        return (feat * HALF_FEATURE_SCALE).to(torch.float16)
    return feat


def kept_features(stored: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The inverse of keep_half: a slice of the kept map back in the model's `dtype`."""
    if stored.dtype == torch.float16 and dtype == torch.float32:
        return stored.to(torch.float32) / HALF_FEATURE_SCALE
    return stored


class OutputBuffer:
    """The stylised image, filled tile by tile: (H, W, 3) uint8 (what a PIL image is built from)
    or, with `as_tensor`, a (1, 3, H, W) float32 tensor in [0, 1] (for tensor callers and tests)."""

    def __init__(self, height: int, width: int, as_tensor: bool = False):
        self.as_tensor = as_tensor
        self.data = (torch.empty(1, 3, height, width) if as_tensor
                     else np.empty((height, width, 3), dtype=np.uint8))

    def write(self, top: int, left: int, rgb: torch.Tensor) -> None:
        """Store (1, 3, h, w) RGB (clamped here) at (top, left), cut at the image's edges."""
        height, width = (self.data.shape[-2:] if self.as_tensor else self.data.shape[:2])
        rgb = rgb[..., : height - top, : width - left].clamp(0, 1)
        h, w = rgb.shape[-2:]
        if self.as_tensor:
            self.data[..., top:top + h, left:left + w] = rgb
        else:  # the same rounding as io.tensor_to_pil
            self.data[top:top + h, left:left + w] = rgb[0].mul(255).round().byte().permute(1, 2, 0).numpy()


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
        transform: network input from a (1, 3, h, w) crop (luminance-only transfer), or None.
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
    whole_palette = (content_palette(image, grey=transform is not None)
                     if model.takes_palette and AF.palette_needs_content(masks, alpha) else None)
    for centre in tile_grid(image.cells, tile):
        # only cells within the decoder halo are decoded; those further out are not exact anyway
        decoded = centre.grown(decoder_halo, image.cells)
        skips = None
        if features is not None:
            feat = kept_features(features[..., decoded.top:decoded.bottom, decoded.left:decoded.right], model.dtype)
        if features is None or skip_taps:
            crop = decoded.grown(encoder_halo, image.cells)
            rgb = image.crop(*crop.pixels())
            net_input = model.network_input(transform(rgb) if transform else rgb)  # for the encoder and relu1_1
            # relu1_1 is recomputed where the skip inputs fold (no masks): pass 1 has its statistics
            unused = {tap: lambda feat: None for tap in model.folded_skip_taps(masks)}
            # {tap: (1, C, crop h·f, crop w·f)}; relu4_1 too unless pass 1 kept it
            feats = model.encode_all(net_input, unused, with_top=features is None)
            feats = {tap: f[..., (decoded.top - crop.top) * scale:(decoded.bottom - crop.top) * scale,
                            (decoded.left - crop.left) * scale:(decoded.right - crop.left) * scale]
                     for tap, f in feats.items() if tap not in unused
                     for scale in [STRIDE // tap_stride(tap) if tap != DECODER_TOP_TAP else 1]}
            if features is None:
                feat = feats.pop(DECODER_TOP_TAP)
            if skip_taps and masks is None:
                offset = ((decoded.top - crop.top) * STRIDE, (decoded.left - crop.left) * STRIDE)
                skips = model.skip_inputs(feats, net_input, styles, weights, alpha, content_stats, offset)
            elif skip_taps:
                tile_tap_masks = {tap: masks_at_taps[tap][..., decoded.top * scale:decoded.bottom * scale,
                                                          decoded.left * scale:decoded.right * scale]
                                  for tap in skip_taps for scale in [STRIDE // tap_stride(tap)]}
                skips = model.skip_targets(feats, styles, weights, None, alpha, content_stats, tile_tap_masks,
                                           consume=True)
            del feats, net_input
        tile_masks = None if masks is None else masks[..., decoded.top:decoded.bottom, decoded.left:decoded.right]
        target = model.transfer(feat, styles, weights, tile_masks, alpha, content_stats=content_stats)
        del feat
        palette = model.palette(styles, whole_palette, target.shape[-2:], weights, tile_masks, alpha)
        rgb_out = model.decode(target, palette, skips)  # (1, 3, 8·decoded h, 8·decoded w) float32
        del skips
        top, bottom, left, right = centre.pixels()
        rgb_out = rgb_out[..., top - decoded.top * STRIDE:bottom - decoded.top * STRIDE,
                          left - decoded.left * STRIDE:right - decoded.left * STRIDE]
        if finish is not None:
            rgb_out = finish(rgb_out, image.crop(top, bottom, left, right))
        out.write(top, left, rgb_out)
        del rgb_out, target
        release_freed_memory()
    return out


def process_rss() -> int:
    """Resident memory of this process in bytes (Linux /proc), 0 where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _format_bytes(count: float) -> str:
    return f"{count / (1 << 30):.2f}G" if count >= 1 << 30 else f"{count / (1 << 20):.0f}M"


@dataclass(frozen=True)
class TilePlan:
    """How to run one large image: tile side in px (the valid centre; a multiple of 8) and
    whether pass 2 reuses pass 1's relu4_1 map instead of re-encoding every tile."""

    tile: int
    keep_features: bool
    feature_dtype: torch.dtype | None = None  # of the kept map: None = the model's (see keep_half)


def feature_map_bytes(model: AdaINModel, height: int, width: int, dtype: torch.dtype | None = None) -> int:
    """Bytes of the whole relu4_1 map (1, 512, H/8, W/8) in `dtype` (default: the model's)."""
    cells = -(-height // STRIDE) * -(-width // STRIDE)
    return cells * 512 * torch.finfo(dtype or model.dtype).bits // 8


def kept_map_dtypes(model: AdaINModel) -> list[torch.dtype | None]:
    """How pass 1's map may be kept, preferred first: as computed (exact), or float16 for a
    float32 model (half the bytes: larger tiles, less halo work; `keep_half`)."""
    return [None, torch.float16] if model.dtype == torch.float32 else [None]


def _tile_for(available: int, per_pixel: int, halo: int) -> int:
    """The largest tile (multiple of 8) whose pass-2 working memory fits `available` bytes."""
    side_with_halo = math.isqrt(max(0, available - TILE_FIXED_BYTES) // per_pixel)
    return (side_with_halo - 2 * halo) // STRIDE * STRIDE


def default_headroom(height: int, width: int) -> int:
    """What one (H, W) image may add to the process's resident memory without --max-memory."""
    return DEFAULT_HEADROOM_BYTES + DEFAULT_HEADROOM_PER_PIXEL * height * width


def gpu_free_bytes(device: torch.device) -> int:
    """Memory a stylisation may use on a CUDA device: free memory plus what torch's caching
    allocator holds unused, times GPU_FREE_FRACTION."""
    free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int((free + cached) * GPU_FREE_FRACTION)


def choose_tile(model: AdaINModel, height: int, width: int, tile: int | None = None,
                max_memory: int | None = None, in_use: int | None = None,
                gpu_free: int | None = None, image_bytes_per_pixel: int = IMAGE_BYTES_PER_PIXEL,
                masked: bool = False) -> TilePlan | None:
    """How to tile an (H, W) content, or None for the untiled path.

    Args:
        tile: 0 never tiles; N > 0 tiles with N px (a multiple of 8, at least MIN_TILE);
            None chooses from the budget.
        max_memory: budget in bytes for the whole process (what peak RSS should stay under).
            None: what this image needs on top of current use, at most `default_headroom`
            (on the CPU), or the free GPU memory (`gpu_free_bytes`) for a model on CUDA.
        in_use: bytes the process holds already (default: its current RSS): libraries,
            weights, the style.
        gpu_free: free device memory in bytes (default: asked of CUDA when the model is there).
        image_bytes_per_pixel: host memory per pixel of the whole images while tiles run:
            IMAGE_BYTES_PER_PIXEL, or OWN_IMAGE_BYTES_PER_PIXEL when the content was read from
            a file by the stylizer (no caller's copy).
        masked: the stylisation has masks (a skip decoder then holds its shallow targets).

    The untiled path runs when it fits the budget; otherwise the largest tile that fits, with
    pass 1's features kept when that still leaves tiles of MIN_CACHED_TILE px.
    """
    if tile == 0:
        return None
    per_pixel = kept_per_pixel = TILE_BYTES_PER_PIXEL.get(model.dtype, TILE_BYTES_PER_PIXEL[torch.float32])
    if model.skip_taps:  # its tiles re-encode their shallow maps and hold them (or their targets)
        extra = SKIP_MASKED_TILE_BYTES_PER_PIXEL if masked else SKIP_TILE_BYTES_PER_PIXEL
        kept_extra = SKIP_MASKED_TILE_BYTES_PER_PIXEL if masked else SKIP_KEPT_TILE_BYTES_PER_PIXEL
        per_pixel += extra.get(model.dtype, extra[torch.float32])
        kept_per_pixel += kept_extra.get(model.dtype, kept_extra[torch.float32])
    halo = total_halo(model)
    image_side = max(-(-height // STRIDE), -(-width // STRIDE)) * STRIDE  # one tile covers it all
    on_gpu = max_memory is None and (gpu_free is not None or model.device.type == "cuda")
    if on_gpu:  # tiles, the feature map and the untiled run live on the GPU; the images on the host
        room = gpu_free if gpu_free is not None else gpu_free_bytes(model.device)
        available, in_use = room, 0
    else:
        in_use = process_rss() if in_use is None else in_use
        room = (max_memory - in_use) if max_memory is not None else default_headroom(height, width)
        available = room - image_bytes_per_pixel * height * width
    if tile is not None:
        check_tile(tile)
        for dtype in kept_map_dtypes(model):
            cached_available = available - feature_map_bytes(model, height, width, dtype)
            if cached_available >= TILE_FIXED_BYTES + (min(tile, image_side) + 2 * halo) ** 2 * kept_per_pixel:
                return TilePlan(tile, keep_features=True, feature_dtype=dtype)
        return TilePlan(tile, keep_features=False)
    padded = (-(-height // STRIDE) * STRIDE) * (-(-width // STRIDE) * STRIDE)
    if TILE_FIXED_BYTES + padded * (per_pixel + UNTILED_EXTRA_BYTES_PER_PIXEL) <= room:
        return None
    # With pass 1's features kept, neither pass needs more than one halo (pass 2 does not encode,
    # or for a skip decoder only up to relu3_1: `kept_map_halo`).
    # The exact map while its tiles stay large (halo work ≤ 13 %), else the half-size one if that
    # gives larger tiles: at 4K/8K the halos, not the precision, decide the wall time.
    kept_halo = kept_map_halo(model)
    best = None
    for dtype in kept_map_dtypes(model):
        cached_tile = min(_tile_for(available - feature_map_bytes(model, height, width, dtype), kept_per_pixel, kept_halo),
                          image_side)
        if cached_tile >= min(LARGE_CACHED_TILE, image_side):
            return TilePlan(cached_tile, keep_features=True, feature_dtype=dtype)
        if cached_tile >= min(MIN_CACHED_TILE, image_side) and (best is None or cached_tile > best.tile):
            best = TilePlan(cached_tile, keep_features=True, feature_dtype=dtype)
    if best is not None:
        return best
    tile = _tile_for(available, per_pixel, halo)
    if tile < MIN_TILE:
        needed = (image_bytes_per_pixel * height * width * (not on_gpu) + TILE_FIXED_BYTES
                  + (MIN_TILE + 2 * halo) ** 2 * per_pixel)
        if max_memory is not None:
            raise UserError(f"--max-memory {_format_bytes(max_memory)}: too small for a {width}x{height} image; "
                            f"expected at least {_format_bytes(in_use + needed)} ({_format_bytes(in_use)} already in use)")
        raise UserError(f"{'GPU' if on_gpu else 'memory'}: {_format_bytes(room)} available, too little for a "
                        f"{width}x{height} image; expected at least {_format_bytes(needed)}; free some, or "
                        f"stylise it smaller with --content-size")
    return TilePlan(min(tile, image_side), keep_features=False)
