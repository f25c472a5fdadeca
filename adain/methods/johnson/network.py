"""The image transformation network of Johnson, Alahi & Fei-Fei (2016), "Perceptual losses for
real-time style transfer and super-resolution" (ECCV), supplementary Table 1, with the two
changes everyone since has made:

  - instance normalisation instead of batch normalisation (Ulyanov et al. 2016), affine;
  - nearest ×2 upsampling + a stride-1 conv instead of fractionally strided (transposed) convs,
    which leave checkerboard artefacts (Odena et al. 2016, "Deconvolution and checkerboard
    artifacts").

All convolutions are reflection-padded (no dark borders).  Layers, for an (N, 3, H, W) input:

    conv 9×9  3→32            (N,  32, H,   W)
    conv 3×3 32→64, stride 2  (N,  64, H/2, W/2)
    conv 3×3 64→128, stride 2 (N, 128, H/4, W/4)
    5 × residual block 128    (N, 128, H/4, W/4)
    up ×2, conv 3×3 128→64    (N,  64, H/2, W/2)
    up ×2, conv 3×3 64→32     (N,  32, H,   W)
    conv 9×9 32→3, sigmoid    (N,   3, H,   W) in [0, 1]

Each conv but the last is followed by instance norm + ReLU.  The output is a sigmoid (the paper:
a scaled tanh into 0–255): it maps straight onto this project's [0, 1] images.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

TOTAL_STRIDE = 4  # two stride-2 convs: inputs are padded to a multiple of 4 and cropped back


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflection-pad (N, C, H, W) by `pad` on every side → (N, C, H+2p, W+2p).

    Same values as `F.pad(x, (p, p, p, p), mode="reflect")`; on the CPU with channels_last bf16
    tensors the generic kernel is several times slower than slicing and concatenating
    (docs/environment.md), so this builds the border from flipped slices there.
    """
    if pad == 0:
        return x
    if x.is_cuda or x.shape[-1] <= pad or x.shape[-2] <= pad:
        return F.pad(x, (pad, pad, pad, pad), mode="reflect")
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    x = torch.cat([x[..., :, 1: pad + 1].flip(-1), x, x[..., :, -pad - 1: -1].flip(-1)], dim=3)
    x = torch.cat([x[..., 1: pad + 1, :].flip(-2), x, x[..., -pad - 1: -1, :].flip(-2)], dim=2)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class InstanceNorm(nn.Module):
    """Affine instance normalisation (Ulyanov et al. 2016) of (N, C, H, W) over H and W.

    Same result and parameter names (`weight`, `bias`, (C,)) as nn.InstanceNorm2d(affine=True),
    but statistics in fp32 and the output in the input's dtype and memory format: the built-in
    kernel under CPU bf16 autocast returns NCHW fp32, and converting back and forth cost more than
    all the convolutions together.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)  # (N, C, 1, 1)
        scale = self.weight.float()[:, None, None] * torch.rsqrt(var + self.eps)
        shift = self.bias.float()[:, None, None] - mean * scale
        return x * scale.to(x.dtype) + shift.to(x.dtype)


class ConvLayer(nn.Module):
    """Reflection-padded k×k conv ('same' size at stride 1), optionally instance norm + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 norm: bool = True, relu: bool = True):
        super().__init__()
        self.pad = kernel // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride)
        self.norm = InstanceNorm(out_channels) if norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(reflect_pad(x, self.pad))
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    """x + (conv-IN-ReLU-conv-IN)(x): the paper's residual block (no ReLU after the sum)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class UpsampleConv(nn.Module):
    """Nearest ×2 upsampling, then a 3×3 conv + IN + ReLU (no transposed conv: no checkerboards)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvLayer(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class TransformerNet(nn.Module):
    """RGB (N, 3, H, W) in [0, 1], any H and W → stylised RGB (N, 3, H, W) in [0, 1]."""

    def __init__(self, residual_blocks: int = 5):
        super().__init__()
        self.residual_blocks = residual_blocks
        self.down = nn.Sequential(ConvLayer(3, 32, 9), ConvLayer(32, 64, 3, stride=2), ConvLayer(64, 128, 3, stride=2))
        self.residual = nn.Sequential(*(ResidualBlock(128) for _ in range(residual_blocks)))
        self.up = nn.Sequential(UpsampleConv(128, 64), UpsampleConv(64, 32))
        self.output = ConvLayer(32, 3, 9, norm=False, relu=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        # Pad bottom/right to a multiple of the total stride so the two ×2 upsamplings land
        # exactly on the padded size; crop the output back to the input's size.
        pad_h, pad_w = (-height) % TOTAL_STRIDE, (-width) % TOTAL_STRIDE
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            image = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
        x = self.output(self.up(self.residual(self.down(image))))
        return torch.sigmoid(x)[..., :height, :width]

    def config(self) -> dict:
        """What rebuilds this network (stored with its weights)."""
        return {"arch": "johnson2016", "residual_blocks": self.residual_blocks, "output": "sigmoid"}
