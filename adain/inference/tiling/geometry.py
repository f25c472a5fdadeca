"""Where tiles go: the halos that make a tile's centre exact (the receptive fields of the encoder
and decoder, adain.inference.tiling's docstring) and the grid of tiles on the relu4_1 cells."""

from __future__ import annotations

import math
from dataclasses import dataclass


from adain.core.errors import UserError
from adain.nn.decoder import DECODER_TOP_TAP, decoder_layers
from adain.nn.encoders import ARCHITECTURES
from adain.nn.model import STRIDE, AdaINModel


MIN_TILE = 64  # px; below this a tile's halos (64 px a side) would be > 8× its own area


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
    ⌊(p − 1) / 2⌋ … ⌊(p + 1) / 2⌋ that bilinear mixes (adain.nn.decoder.upsample2x).
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


def tap_stride(tap: str) -> int:
    """Pixels per position of a skip tap relu{b}_1: 2^(b − 1) (relu1_1: 1, relu2_1: 2, relu3_1: 4)."""
    return 2 ** (int(tap[4]) - 1)


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
