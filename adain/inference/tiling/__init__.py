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

from adain.inference.tiling.buffers import (OutputBuffer, TiledImage, color_statistics, content_palette, keep_half,
                                            kept_features, mask_cells, release_freed_memory, tap_masks)
from adain.inference.tiling.geometry import (MIN_TILE, Tile, check_tile, decoder_halo_cells, encoder_halo_cells,
                                             kept_map_halo, skip_encoder_halo_cells, tap_stride, tile_grid,
                                             total_halo)
from adain.inference.tiling.passes import content_statistics, stylize_tiled
from adain.inference.tiling.plan import (DEFAULT_HEADROOM_BYTES, DEFAULT_HEADROOM_PER_PIXEL, IMAGE_BYTES_PER_PIXEL,
                                         LARGE_CACHED_TILE, MIN_CACHED_TILE, OWN_IMAGE_BYTES_PER_PIXEL,
                                         SKIP_KEPT_TILE_BYTES_PER_PIXEL, SKIP_MASKED_TILE_BYTES_PER_PIXEL,
                                         SKIP_TILE_BYTES_PER_PIXEL, TILE_BYTES_PER_PIXEL, TILE_FIXED_BYTES,
                                         UNTILED_EXTRA_BYTES_PER_PIXEL, TilePlan, choose_tile, default_headroom,
                                         feature_map_bytes, gpu_free_bytes, kept_map_dtypes)

# geometry: halos and the tile grid; buffers: the uint8 image and output, what is computed over the
# whole image, the kept relu4_1 map; passes: the two passes; plan: the tile size for a memory budget.
