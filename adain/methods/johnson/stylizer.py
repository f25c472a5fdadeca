"""Johnson, Alahi & Fei-Fei (2016), "Perceptual losses for real-time style transfer and
super-resolution" (ECCV): one feed-forward network per style, behind the Stylizer interface.

    stylizer = load_johnson("adain/weights/johnson-vangogh.safetensors")
    out = stylizer.stylize("photo.jpg", None)          # the network is the style

The network (`adain.methods.johnson.network.TransformerNet`) is trained by
`train.py --config configs/train/johnson.yaml style=PATH` and shipped by `adain export`
(safetensors + JSON, loaded without pickle).  Also here: `adain bench --method johnson`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch

from adain.core.errors import UserError
from adain.core.runtime import prepare_for_inference, resolve_device, resolve_dtype
from adain.methods.base import StyleCode, Stylizer
from adain.methods.johnson.network import TransformerNet
from adain.nn.weights import SHIPPED_DIR

METADATA_KEY = "adain"  # the same safetensors header key as shipped decoders (adain.nn.weights)
SHIPPED_JOHNSON = SHIPPED_DIR / "johnson-vangogh.safetensors"


# --- weight files ---------------------------------------------------------------------------

def save_transformer(network: TransformerNet, path: str | os.PathLike, metadata: dict) -> Path:
    """Ship a network: safetensors (fp16 when metadata["dtype"] == "float16") with its JSON
    description in the header and beside it as `<name>.json` (adain.nn.weights.save_shipped_weights)."""
    from adain.nn.weights import save_shipped_weights

    return save_shipped_weights(network, path, {**metadata, "method": "johnson", "transformer": network.config()})


def load_transformer(path: str | os.PathLike) -> tuple[TransformerNet, dict]:
    """A TransformerNet (fp32) and its description from a shipped .safetensors file or a train.py
    checkpoint (key "transformer").  Anything else is a one-line UserError."""
    from adain.nn.weights import load_torch_file, read_safetensors

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: johnson model file not found")
    if path.suffix == ".safetensors":
        state, header = read_safetensors(path)
        metadata = json.loads(header.get(METADATA_KEY, "{}"))
        if metadata.get("method", "johnson") != "johnson":
            raise UserError(f"{path}: a {metadata['method']} file, not a johnson model")
    else:
        checkpoint = load_torch_file(path, "checkpoint")
        if not isinstance(checkpoint.get("transformer"), dict):
            raise UserError(f"{path}: not a johnson checkpoint (no 'transformer' weights)")
        state = checkpoint["transformer"]
        metadata = {"method": "johnson", "style": checkpoint.get("style", {}), "steps": checkpoint.get("step"),
                    "encoder": checkpoint.get("encoder"), "transformer": checkpoint.get("transformer_config", {})}
    blocks = int(metadata.get("transformer", {}).get("residual_blocks", 5))
    network = TransformerNet(blocks)
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        raise UserError(f"{path}: tensors do not match a johnson network with {blocks} residual blocks")
    network.load_state_dict({k: v.float() for k, v in state.items()})
    return network, metadata


# --- the Stylizer ---------------------------------------------------------------------------

def load_johnson(model: str | os.PathLike | None = None, device: str = "auto",
                 precision: str = "auto") -> "JohnsonStylizer":
    """Build a Johnson Stylizer.

    Args:
        model: a .safetensors file written by `adain export`, or a train.py checkpoint;
            default: the shipped network (SHIPPED_JOHNSON, Van Gogh's Starry Night).
        device: "auto", "cpu" or "cuda[:N]".
        precision: "auto" (bf16 weights + channels_last where the hardware is fast), "bf16" or "fp32".
    """
    if model is None:
        if not SHIPPED_JOHNSON.is_file():
            raise UserError("johnson: no network ships with this install; pass --johnson-model PATH (a network "
                            "trained by train.py --config configs/train/johnson.yaml, or its exported .safetensors)")
        model = SHIPPED_JOHNSON
    network, metadata = load_transformer(model)
    target_device = resolve_device(device)
    return JohnsonStylizer(prepare_for_inference(network, target_device, resolve_dtype(precision, target_device)),
                           metadata)


class JohnsonStylizer(Stylizer):
    """Stylise with a per-style network: one forward pass, no style image needed.

    The network *is* the style, so `stylize(content, style=None)` is the normal call.  A style
    passed anyway (the CLI always passes one) is ignored: it cannot change what the network
    learned, and refusing it would break batch commands that mix methods.  `style_name` says
    which style the network renders.  Histogram colour preservation matches the output's colours
    to the content's (`recolours_style = False`); luminance preservation runs the network on
    the content's luminance.  No method options.
    """

    name = "johnson"
    recolours_style = False
    supports_multiple_styles = False

    def __init__(self, network: TransformerNet, metadata: dict | None = None):
        self.network = network
        self.metadata = metadata or {}

    @property
    def style_name(self) -> str:
        return str(self.metadata.get("style", {}).get("name", "unknown"))

    supports_style_scale = False

    def encode_style(self, style, size: int = 512, max_size: int = 0, max_pixels: int = 0,
                     style_scale=None) -> StyleCode:
        # The style is ignored (see the class docstring): do not even decode the file.
        return StyleCode(torch.zeros(1, 3, 1, 1), None, self.style_name)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.network.parameters()).dtype

    @torch.inference_mode()
    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None) -> torch.Tensor:
        if masks is not None:
            raise UserError("johnson: masks need several styles; a johnson network renders one")
        x = content.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)
        return self.network(x).float()  # (N, 3, H, W) in [0, 1]

    @torch.inference_mode()
    def stylize(self, content, style=None, **kwargs):
        return super().stylize(content, style, **kwargs)

    stylize.__doc__ = Stylizer.stylize.__doc__


def from_cli(args) -> tuple[JohnsonStylizer, dict]:
    """`adain stylize --method johnson`: the Stylizer from --johnson-model (default: the shipped
    network), --device, --precision."""
    return load_johnson(getattr(args, "johnson_model", None), args.device, args.precision), {}
