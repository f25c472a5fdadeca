"""The tile size that keeps one stylisation within a memory budget, from per-pixel costs fitted
to measured peak memory (`choose_tile`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from adain.core.errors import UserError
from adain.core.runtime import process_memory
from adain.inference.tiling.geometry import MIN_TILE, check_tile, kept_map_halo, total_halo
from adain.nn.model import STRIDE, AdaINModel

MIN_CACHED_TILE = 256  # px; keep pass 1's features only if tiles can still be this large
LARGE_CACHED_TILE = 1024  # px; tiles this large spend ≤ 13 % on 32-px halos: keep the map exact

# Peak RSS growth of one tile = TILE_FIXED_BYTES + per pixel of the tile *with its halos* (the
# encoder's relu1 and the decoder's last activations, 64 channels), fitted to measured runs on
# CPU: bf16 + channels_last 512² … 1152² tiles; fp32 since in-place ReLUs and convolutions
# without a padded copy (adain.nn.layers.reflect_conv_without_copy): 510 B (encode) and 580 B
# (decode) per pixel of a 768² tile, 650 with a margin; 4K/8K end to end in experiments/bench.
TILE_FIXED_BYTES = 150 << 20  # oneDNN scratch pads, float32 AdaIN copies, allocator slack
TILE_BYTES_PER_PIXEL = {torch.bfloat16: 360, torch.float16: 360, torch.float32: 650}
# A skip decoder's tiles re-encode in pass 2 (up to relu3_1 where pass 1 kept the relu4_1 map, to
# relu4_1 otherwise) and hold the tile's relu2_1 and relu3_1 maps (192 B per pixel of the crop in
# float32) until the decoder has used them; its relu1_1 is recomputed from the image and its AdaINs
# are folded into the projections (adain.nn.skip_inputs).  Measured (experiments/bench/tile_memory.py,
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
        in_use = (process_memory() or 0) if in_use is None else in_use
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
