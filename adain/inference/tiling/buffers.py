"""The whole image in as little memory as it takes: the content kept as uint8 (`TiledImage`), the
output written tile by tile (`OutputBuffer`), and what is computed over all of it (colour
statistics, the palette, masks at the feature sizes, the kept relu4_1 map in half precision)."""

from __future__ import annotations

import ctypes
import functools
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from adain.inference.tiling.geometry import tap_stride
from adain.nn import functional as AF
from adain.nn.model import STRIDE, AdaINModel, pad_to_multiple


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


def color_statistics(image: TiledImage, transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour mean (1, 3, 1) and covariance (1, 3, 3), float64, of the whole image, band by band
    (what functional.color_statistics computes on the full tensor); of `transform` of each band
    ((1, 3, rows, W) → the same) where given."""
    count, total, outer = 0, torch.zeros(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
    for band in image.row_chunks():
        pixels = (transform(band) if transform else band)[0].double().flatten(1)  # (3, rows·W)
        count += pixels.shape[1]
        total += pixels.sum(dim=1)
        outer += pixels @ pixels.T
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    return mean.view(1, 3, 1), cov.unsqueeze(0)


def tap_masks(masks: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
    """Masks (1, K, H, W) at the content's size → {tap: (1, K, H/s, W/s)} at each skip tap's
    resolution s, as the untiled run sees them (reflection-padded to multiples of 8, then
    averaged over s×s blocks: F.interpolate's "area" on sizes that divide exactly)."""
    padded, _ = pad_to_multiple(masks.float())
    return {tap: F.avg_pool2d(padded, tap_stride(tap)) if tap_stride(tap) > 1 else padded for tap in taps}


def content_palette(image: TiledImage, transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    ) -> AF.FeatureStats:
    """The network input's RGB mean/std, each (1, 3, 1, 1), as `AF.mean_std` gives them on the whole
    image (a palette decoder's content palette, AdaINModel.forward): of the content, or of what
    `transform` makes of each band (its luminance in all three channels under luminance-only
    transfer; the content in the style's colours)."""
    color_mean, color_cov = color_statistics(image, transform)  # (1, 3, 1), (1, 3, 3) float64
    mean, var = color_mean.view(3), torch.diagonal(color_cov[0])
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
