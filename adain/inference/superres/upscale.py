"""Super-resolve an image ×N in overlapping tiles: memory bounded by the tile, no seams.

    out = upscale(image, 4)                    # (1, 3, h, w) in [0, 1] → (4h, 4w, 3) uint8

Which network reaches which factor (`FACTOR_ROUTES`; docs/superres.md compares them):
  ×4: realesr-animevideov3 (×4) in one pass;
  ×3: realesr-animevideov3 (×4), then a ×3/4 antialiased bicubic reduction per tile, as the
      ncnn release's own ×3 model does (its x2/x3 files are the ×4 weights plus that resize);
  ×2: waifu2x-upconv7-photo (×2) in one pass.

Why tiles show no seams.  Each tile's input is cut from the image with `context` px more on
every side — the network's receptive radius: one px per 3×3 conv for the compact Real-ESRGAN
network, the 7 px its unpadded convs consume for waifu2x — so every output pixel kept from a
tile sees exactly what it would see in one pass over the whole image.  At the image's edges the
networks see the padding their reference implementations use (ncnn's releases: 10 px reflected
for Real-ESRGAN, 7 px replicated for waifu2x; checked against the ncnn binaries to one grey level,
docs/superres.md), added once to the whole image.  A reduction after the network keeps
`RESIZE_MARGIN` more px of each tile so that the bicubic kernel too sees what it would see globally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.inference.superres.factors import check_upscale
from adain.inference.superres.sources import load_network
from adain.inference.tiling import release_freed_memory


@dataclass(frozen=True)
class Route:
    network: str
    border: tuple[str, int]  # padding of the whole image: (torch pad mode, px)
    consumed: int  # input px each side the network uses up without padding (waifu2x: 7)
    context: int  # input px each side an output pixel depends on


REALESRGAN = Route("realesr-animevideov3", ("reflect", 10), 0, 17)
WAIFU2X = Route("waifu2x-upconv7-photo", ("replicate", 7), 7, 7)
FACTOR_ROUTES = {2: WAIFU2X, 3: REALESRGAN, 4: REALESRGAN}
RESIZE_MARGIN = 2  # input px: the ×3/4 bicubic kernel reaches ±2 output px of the network = 0.5 px here

# Peak RSS growth of one tile per px of its input window (the tile plus its context), measured
# on the CPU (256² and 512² tiles, bf16 and fp32; docs/superres.md): the compact network 540–715 B
# (64-channel maps), waifu2x 700–740 B in bf16, 1,400–1,480 B in fp32 (its 128- and 256-channel
# maps).  Beside the tiles: the whole input as float32 and its padded copy (24 B per input px).
TILE_BYTES_PER_INPUT_PIXEL = {"realesr-animevideov3": 800, "waifu2x-upconv7-photo": 1600}
INPUT_BYTES_PER_PIXEL = 24
TILE_FIXED_BYTES = 100 << 20  # oneDNN scratch pads, allocator slack
DEFAULT_TILE = 512  # input px; context costs (512 + 34)² / 512² = 1.14× the work of the tile itself
MIN_TILE = 32


def tile_for(network: str, available: int | None, context: int) -> int:
    """The tile side (input px) whose working memory fits `available` bytes (None: DEFAULT_TILE)."""
    if available is None:
        return DEFAULT_TILE
    side = math.isqrt(max(0, available - TILE_FIXED_BYTES) // TILE_BYTES_PER_INPUT_PIXEL[network]) - 2 * context
    if side < MIN_TILE:
        raise UserError(f"memory: {available / (1 << 20):.0f} MiB left for super-resolution, too little; expected "
                        f"at least {(TILE_FIXED_BYTES + (MIN_TILE + 2 * context) ** 2 * TILE_BYTES_PER_INPUT_PIXEL[network]) / (1 << 20):.0f} MiB")
    return min(DEFAULT_TILE, side)


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    """[0, length) cut into pieces of at most `tile`, of near-equal size."""
    count = max(1, -(-length // tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges, edges[1:]))


def _resized(output: torch.Tensor, ratio: float) -> torch.Tensor:
    size = (round(output.shape[-2] * ratio), round(output.shape[-1] * ratio))
    return F.interpolate(output, size=size, mode="bicubic", antialias=ratio < 1, align_corners=False)


@torch.inference_mode()
def upscale_pass(network: nn.Module, route: Route, image: torch.Tensor, factor: int, tile: int,
                 as_uint8: bool) -> torch.Tensor | np.ndarray:
    """One network pass, tiled: (1, 3, h, w) float in [0, 1] (CPU) → ×`factor` (≤ the network's
    own scale; smaller factors by an antialiased bicubic reduction of each tile's output).

    Returns (factor·h, factor·w, 3) uint8 if `as_uint8`, else (1, 3, factor·h, factor·w) float32.
    """
    scale, (mode, border) = network.scale, route.border
    height, width = image.shape[-2:]
    if min(height, width) <= border:
        raise UserError(f"super-resolution: the image is {width}×{height} px; expected more than {border} px a side")
    parameter = next(network.parameters())
    padded = F.pad(image.float(), (border,) * 4, mode=mode)  # (1, 3, h + 2b, w + 2b)
    out = (np.empty((factor * height, factor * width, 3), np.uint8) if as_uint8
           else torch.empty(1, 3, factor * height, factor * width))
    margin = RESIZE_MARGIN if factor != scale else 0
    reach = route.context + margin
    for top, bottom in _spans(height, tile):
        for left, right in _spans(width, tile):
            # input window in padded coordinates, cut at the padded image's edges
            y0, y1 = max(0, top - reach + border), min(height + 2 * border, bottom + reach + border)
            x0, x1 = max(0, left - reach + border), min(width + 2 * border, right + reach + border)
            window = padded[..., y0:y1, x0:x1].to(device=parameter.device, dtype=parameter.dtype)
            result = network(window).float()  # rows scale·(y0 + consumed … y1 − consumed) of the padded image
            first_y, first_x = y0 + route.consumed - border, x0 + route.consumed - border  # in image coordinates
            # keep [top − margin, bottom + margin) ∩ the image, in the network's scale
            keep_top, keep_left = max(0, top - margin), max(0, left - margin)
            keep_bottom, keep_right = min(height, bottom + margin), min(width, right + margin)
            result = result[..., scale * (keep_top - first_y): scale * (keep_bottom - first_y),
                            scale * (keep_left - first_x): scale * (keep_right - first_x)]
            if factor != scale:
                result = _resized(result, factor / scale)
            result = result[..., factor * (top - keep_top): factor * (bottom - keep_top),
                            factor * (left - keep_left): factor * (right - keep_left)].clamp(0, 1).cpu()
            if as_uint8:  # the same rounding as io.tensor_to_pil
                out[factor * top: factor * bottom, factor * left: factor * right] = (
                    result[0].mul(255).round().byte().permute(1, 2, 0).numpy())
            else:
                out[..., factor * top: factor * bottom, factor * left: factor * right] = result
            del window, result
            release_freed_memory()  # freed heap pages would otherwise stay mapped (adain.inference.tiling)
    return out


def network_for(factor: int, device: torch.device | str = "cpu", precision: str = "auto") -> tuple[nn.Module, Route]:
    """The network FACTOR_ROUTES names for `factor`, on `device` in channels_last (faster convs
    on the CPU); precision as adain.core.runtime.resolve_dtype ("auto": bf16 where the hardware is
    fast at it: 1.8× faster on an AVX512-BF16 CPU, 0.3 grey levels from float32 on average)."""
    from adain.core.runtime import resolve_dtype

    factor = check_upscale(factor)
    if factor not in FACTOR_ROUTES:
        raise UserError(f"upscale {factor}: expected one of {', '.join(map(str, FACTOR_ROUTES))}")
    route = FACTOR_ROUTES[factor]
    device = torch.device(device)
    network = load_network(route.network, device, resolve_dtype(precision, device))
    return network.to(memory_format=torch.channels_last), route


def upscale(image: torch.Tensor, factor: int, *, device: torch.device | str = "cpu", precision: str = "auto",
            available: int | None = None, as_uint8: bool = True) -> torch.Tensor | np.ndarray:
    """(1, 3, h, w) RGB in [0, 1] → ×`factor` (2, 3 or 4) by the network FACTOR_ROUTES names.

    Args:
        device / precision: where and in what dtype the network runs ("auto", "bf16", "fp32");
            the image and the result stay on the host.
        available: bytes the tiles may use (None: DEFAULT_TILE-px tiles).
        as_uint8: return (factor·h, factor·w, 3) uint8, else (1, 3, factor·h, factor·w) float32.
    """
    network, route = network_for(factor, device, precision)
    if available is not None:
        available -= INPUT_BYTES_PER_PIXEL * image.shape[-2] * image.shape[-1]
    tile = tile_for(route.network, available, route.context + RESIZE_MARGIN)
    return upscale_pass(network, route, image, factor, tile, as_uint8)
