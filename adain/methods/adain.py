"""AdaIN (Huang & Belongie 2017) behind the Stylizer interface: one forward pass per content.

    stylizer = load_adain()                              # the shipped decoder, fast path here
    out = stylizer.stylize("photo.jpg", "art.jpg", alpha=0.8)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from adain import functional as AF
from adain.encoders import build_encoder
from adain.errors import UserError
from adain.methods.base import StyleCode, Stylizer
from adain.model import AdaINModel
from adain.runtime import prepare_for_inference, resolve_device, resolve_dtype
from adain.weights import load_decoder

SHIPPED_DECODER = Path(__file__).resolve().parent.parent / "weights" / "decoder-vgg16-hed.safetensors"


def default_decoder_path() -> Path:
    if not SHIPPED_DECODER.is_file():
        raise UserError(
            "decoder: no trained decoder ships with this install; pass --decoder PATH "
            "(a decoder.pth of the PyTorch AdaIN port or a file written by train.py)"
        )
    return SHIPPED_DECODER


def load_adain(
    decoder: str | os.PathLike | None = None,
    encoder: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    encoder_weights: str | os.PathLike | None = None,
) -> "AdaINStylizer":
    """Build an AdaIN Stylizer.

    Args:
        decoder: decoder file (.safetensors, a train.py checkpoint, or the port's decoder.pth);
            default: the decoder shipped in the package.
        encoder: encoder name; default: the one the decoder was trained with.
        device: "auto", "cpu" or "cuda[:N]".
        precision: "auto" (bf16 where the hardware is fast at it), "bf16" or "fp32".
        encoder_weights: a local copy of the encoder's original weight file.
    """
    decoder_module, metadata = load_decoder(decoder if decoder is not None else default_decoder_path())
    encoder_module = build_encoder(encoder or metadata["encoder"], weights_path=encoder_weights)
    target_device = resolve_device(device)
    dtype = resolve_dtype(precision, target_device)
    model = prepare_for_inference(AdaINModel(encoder_module, decoder_module), target_device, dtype)
    return AdaINStylizer(model, metadata)


class AdaINStylizer(Stylizer):
    """Stylise with a frozen AdaIN model; all work runs under inference_mode.

    Options of `stylize`: alpha (content–style trade-off in [0, 1], 0 reconstructs the content).
    """

    name = "adain"

    def __init__(self, model: AdaINModel, metadata: dict | None = None):
        self.model = model
        self.metadata = metadata or {}

    def _style_features(self, image: torch.Tensor) -> AF.FeatureStats:
        return self.model.style_stats(image)  # relu4_1 mean/std, (1, 512, 1, 1) each

    @torch.inference_mode()
    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None, alpha: float = 1.0) -> torch.Tensor:
        return self.model(content, [code.features for code in styles], weights, masks, alpha)

    @torch.inference_mode()
    def stylize(self, content, style, **kwargs):
        return super().stylize(content, style, **kwargs)

    stylize.__doc__ = Stylizer.stylize.__doc__


def from_cli(args) -> tuple[AdaINStylizer, dict]:
    """`adain stylize --method adain`: the Stylizer and its per-image options from parsed flags."""
    stylizer = load_adain(args.decoder, args.encoder, args.device, args.precision, args.encoder_weights)
    return stylizer, {"alpha": args.alpha}
