"""Building blocks shared by the encoder and the decoders."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

PADDING_MODES = ("zero", "reflect")


def reflect_pad1(x: torch.Tensor) -> torch.Tensor:
    """Reflection-pad (N, C, H, W) by one pixel on every side → (N, C, H+2, W+2).

    Same values as `F.pad(x, (1, 1, 1, 1), mode="reflect")`, written into one preallocated
    tensor of x's memory format: the interior in one copy, then the four one-pixel strips (the
    rows last, so that they carry the corners).  On CPU with channels_last tensors the generic
    reflection kernel is several times slower than the 3×3 convolution that follows it
    (environment.md), and two concatenations cost twice this one copy (85 vs 43 ms for a
    64×512² fp32 map on the 2-core AVX2 CPU, median of 9).  On CUDA the generic kernel is fine
    and is used.
    """
    if x.is_cuda or x.shape[-1] < 2 or x.shape[-2] < 2:
        return F.pad(x, (1, 1, 1, 1), mode="reflect")
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    out = torch.empty((n, c, h + 2, w + 2), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out[:, :, 1:-1, 1:-1] = x
    out[:, :, 1:-1, 0] = x[:, :, :, 1]
    out[:, :, 1:-1, -1] = x[:, :, :, -2]
    out[:, :, 0, :] = out[:, :, 2, :]
    out[:, :, -1, :] = out[:, :, -3, :]
    return out


class Conv3x3(nn.Module):
    """3×3 convolution with 'same' output size and zero or reflection padding.

    Parameters are `weight` (out, in, 3, 3) and `bias` (out,), the same names as nn.Conv2d, so
    state dicts of other implementations map onto it one to one.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: str = "zero"):
        super().__init__()
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")

    @property
    def in_channels(self) -> int:
        return self.weight.shape[1]

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_weights(x, self.weight, self.bias)

    def with_weights(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """This layer's convolution and padding with other weights (`weight` (out, in, 3, 3),
        `bias` (out,)): the decoder folds per-image factors into them (adain.nn.decoder)."""
        if self.padding == "zero":
            return F.conv2d(x, weight, bias, padding=1)
        if x.device.type != "cpu" or torch.is_grad_enabled() or min(x.shape[-2:]) < NO_COPY_MIN_SIDE:
            return F.conv2d(reflect_pad1(x), weight, bias)
        return reflect_conv_without_copy(x, weight, bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, padding={self.padding}"


# Conv3x3 skips the padded copy (CPU inference) on maps at least this large on both sides: there
# the copy is what bounds memory, and the four border strips add ≤ 4/128 of the layer's work.
NO_COPY_MIN_SIDE = 128


def reflect_conv_without_copy(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """3×3 convolution of (N, C, H, W) with one pixel of reflection padding, H, W ≥ 2, without
    the padded copy of x: convolve with zero padding (oneDNN pads inside the kernel), then redo
    the four one-pixel border lines, each from the three input lines it reads (reflected: row −1
    is row 1).  Only the border outputs see the padding, so the rest is already right.

    Inference on the CPU only (Conv3x3.forward): the padded copy is a third of the working memory
    of a full-resolution 64-channel layer (input, copy, output: 768 → 512 B per pixel in fp32,
    what bounds a tile of a 4K/8K image, adain.inference.tiling); training keeps the plain form.
    """
    out = F.conv2d(x, weight, bias, padding=1)  # (N, C_out, H, W), wrong on the border only
    rows = {0: (1, 0, 1), -1: (-2, -1, -2)}  # the input rows output row 0 / H−1 reads
    for row, reads in rows.items():
        strip = reflect_pad1(torch.stack([x[:, :, r] for r in reads], dim=2))[:, :, 1:-1]  # (N, C, 3, W+2)
        out[:, :, row] = F.conv2d(strip, weight, bias)[:, :, 0]
    for col, reads in rows.items():
        strip = reflect_pad1(torch.stack([x[..., c] for c in reads], dim=3))[..., 1:-1]  # (N, C, H+2, 3)
        out[..., col] = F.conv2d(strip, weight, bias)[..., 0]
    return out
