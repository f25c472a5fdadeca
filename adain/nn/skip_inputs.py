"""A skip decoder's inputs in their cheapest form at inference: AdaIN folded into the projection,
relu1_1 recomputed instead of held.

A skip decoder adds proj(s·t) to its hidden map x at each skip tap (adain.nn.decoder): t is the AdaIN
target of the content's features f there, s a fixed input scale, proj a 1×1 convolution (weight
W, bias c).  Without masks t is per-channel affine in f,

    t = a ⊙ f + b,   a = α·σ_t/σ_f + (1 − α),   b = α·(μ_t − μ_f·σ_t/σ_f)

(μ_t, σ_t: the style's statistics at the tap, blended by the weights; μ_f, σ_f: the content's),
so the whole chain is one 1×1 convolution of f itself,

    proj(s·t) = (W·diag(s·a)) f + (W·(s·b) + c),

added into x in place, a band of rows at a time: no target map, and temporaries the size of one
band.  relu1_1 is the one full-resolution tap: held from the encoder through the whole decoder
it costs 256 B per pixel in float32, as much as the decoder's own last map.  It is a single 3 → 64
convolution of the image (~1 % of the network's work), so `RecomputedSkip` computes it again,
band by band, at the decoder's last step, and the encoder keeps only its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.nn import functional as AF
from adain.nn.layers import reflect_pad1

# The tap recomputed from the image rather than held: the encoder's first, at full resolution.
RECOMPUTED_TAP = "relu1_1"
# Rows per band × width ≈ this many pixels: the 64-channel band and its projection are 4 MB each in
# float32, and stay in cache: 54 vs 124 ms for relu1_1's recomputation and projection at 512² in
# bands of 16k vs 64k pixels (2-core AVX2 CPU).
BAND_PIXELS = 1 << 14


def adain_affine(content: AF.FeatureStats, target: AF.FeatureStats, alpha: float = 1.0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) with α·adain(f) + (1 − α)·f = a ⊙ f + b, each (N|1, C, 1, 1) float32."""
    ratio = target.std / AF.normalising_std(content)
    return alpha * ratio + (1.0 - alpha), alpha * (target.mean - content.mean * ratio)


@dataclass
class AffineSkip:
    """The skip target scale ⊙ feat + shift, never built.  `feat`: the content's features at the
    tap (N, C, h, w) in the model's dtype; `scale`, `shift`: (N|1, C, 1, 1) float32."""

    feat: torch.Tensor
    scale: torch.Tensor
    shift: torch.Tensor

    def rows(self, sample: int, top: int, bottom: int, width: int) -> torch.Tensor:
        """The features of rows [top, bottom) of one sample, (1, C, bottom − top, width)."""
        return self.feat[sample:sample + 1, :, top:bottom, :width]


@dataclass
class RecomputedSkip:
    """The skip target scale ⊙ relu1_1(image) + shift, relu1_1 recomputed band by band.

    `padded`: the encoder's input space (`VGGEncoder.preprocess` of the image the encoder saw),
    padded by one pixel as conv1_1 pads, (N, 3, H + 2, W + 2); `weight`, `bias`: conv1_1's;
    `top`, `left`: where the decoder's map starts in the image (a tile decoded from inside its
    crop, adain.inference.tiling)."""

    padded: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    scale: torch.Tensor
    shift: torch.Tensor
    top: int = 0
    left: int = 0

    @classmethod
    def of_image(cls, encoder: nn.Module, image: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
                 top: int = 0, left: int = 0) -> "RecomputedSkip":
        """`encoder`: the VGGEncoder whose relu1_1 this is; `image`: (N, 3, H, W) RGB as the
        encoder was given it (the model's dtype, device and memory format)."""
        conv = encoder.convs["conv1_1"]
        x = encoder.preprocess(image)
        padded = reflect_pad1(x) if conv.padding == "reflect" else F.pad(x, (1, 1, 1, 1))
        return cls(padded, conv.weight, conv.bias, scale, shift, top, left)

    def rows(self, sample: int, top: int, bottom: int, width: int) -> torch.Tensor:
        """relu1_1 of rows [top, bottom) of one sample, (1, 64, bottom − top, width)."""
        window = self.padded[sample:sample + 1, :, self.top + top:self.top + bottom + 2,
                             self.left:self.left + width + 2]
        return F.conv2d(window, self.weight, self.bias).relu_()


def add_projection_(hidden: torch.Tensor, proj: nn.Conv2d, skip: AffineSkip | RecomputedSkip,
                    input_scale: float, band_pixels: int = BAND_PIXELS) -> torch.Tensor:
    """hidden (N, C, h, w) += proj(input_scale · (skip.scale ⊙ f + skip.shift)), in place, with
    the affine map and the input scale folded into the projection's weights (per sample: each
    may have its own statistics); returns `hidden`.  Inference only (the weights are folded
    outside autograd's view)."""
    weight = proj.weight.detach().float().flatten(1)  # (C_out, C_in)
    bias = proj.bias.detach().float()  # (C_out,)
    height, width = hidden.shape[-2:]
    band_rows = max(1, band_pixels // width)
    for sample in range(hidden.shape[0]):
        scale = skip.scale[sample if skip.scale.shape[0] > 1 else 0].flatten() * input_scale  # (C_in,)
        shift = skip.shift[sample if skip.shift.shape[0] > 1 else 0].flatten() * input_scale
        folded_weight = (weight * scale).to(hidden.dtype)[:, :, None, None]  # (C_out, C_in, 1, 1)
        folded_bias = (bias + weight @ shift).to(hidden.dtype)
        for top in range(0, height, band_rows):
            bottom = min(top + band_rows, height)
            band = skip.rows(sample, top, bottom, width)
            hidden[sample:sample + 1, :, top:bottom].add_(F.conv2d(band, folded_weight, folded_bias))
            del band
    return hidden
