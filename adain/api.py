"""The Python API: `adain.load()` → a `Stylizer` that takes paths, PIL images or tensors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from PIL import Image

from adain import functional as AF
from adain.encoders import build_encoder
from adain.errors import UserError
from adain.io import (DEFAULT_MAX_PIXELS, load_mask, open_image, pil_to_tensor, resize_shorter, scaled_size,
                      tensor_to_pil, to_rgb)
from adain.model import AdaINModel
from adain.runtime import prepare_for_inference, resolve_device, resolve_dtype
from adain.weights import load_decoder

ImageLike = Union[str, os.PathLike, Image.Image, torch.Tensor]
PRESERVE_COLOR = ("none", "histogram", "luminance")
SHIPPED_DECODER = Path(__file__).parent / "weights" / "decoder-vgg16-hed.safetensors"


@dataclass
class StyleCode:
    """A style encoded once: relu4_1 statistics plus the image (1, 3, H, W), which colour
    preservation needs because it recolours the style for each content."""

    stats: AF.FeatureStats
    image: torch.Tensor
    name: str = "style"


def default_decoder_path() -> Path:
    if not SHIPPED_DECODER.is_file():
        raise UserError(
            "decoder: no trained decoder ships with this install; pass --decoder PATH "
            "(a decoder.pth of the PyTorch AdaIN port or a file written by train.py)"
        )
    return SHIPPED_DECODER


def load(
    decoder: str | os.PathLike | None = None,
    encoder: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    encoder_weights: str | os.PathLike | None = None,
) -> "Stylizer":
    """Build a Stylizer.

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
    return Stylizer(model, metadata)


class Stylizer:
    """Stylise images with a frozen AdaIN model; all work runs under inference_mode."""

    def __init__(self, model: AdaINModel, metadata: dict | None = None):
        self.model = model
        self.metadata = metadata or {}

    # --- inputs ---------------------------------------------------------------------------

    @staticmethod
    def to_tensor(image: ImageLike, size: int = 0, max_size: int = 0,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
        """Any image-like → (1, 3, H, W) float32 RGB in [0, 1], shorter side `size` (0: as is)."""
        if isinstance(image, torch.Tensor):
            tensor = image.unsqueeze(0) if image.dim() == 3 else image
            if tensor.dim() != 4 or tensor.shape[1] != 3:
                raise UserError(f"image tensor: shape {tuple(image.shape)}; expected (3, H, W) or (N, 3, H, W)")
            new_size = scaled_size(tensor.shape[-1], tensor.shape[-2], size, max_size)
            if new_size is not None:
                tensor = F.interpolate(tensor.float(), size=new_size[::-1], mode="bicubic", antialias=True).clamp(0, 1)
            return tensor.float()
        pil = open_image(image, max_pixels) if isinstance(image, (str, os.PathLike)) else to_rgb(image)
        return pil_to_tensor(resize_shorter(pil, size, max_size))

    def _masks(self, masks: Sequence[ImageLike] | torch.Tensor, original_size: tuple[int, int],
               size: tuple[int, int], n_styles: int) -> torch.Tensor:
        """Masks at the content's original (W, H) → (1, K, H', W') at the working size.

        K styles take K masks, or K − 1 masks with the last style taking what they leave.
        """
        if isinstance(masks, torch.Tensor):
            stack = masks.float() if masks.dim() == 4 else masks.float().unsqueeze(0)
        else:
            loaded = []
            for mask in masks:
                if isinstance(mask, (str, os.PathLike)):
                    loaded.append(load_mask(mask, original_size))
                else:
                    if mask.size != original_size:
                        raise UserError(f"mask: size {mask.size}; expected the content's size {original_size}")
                    loaded.append(pil_to_tensor(mask.convert("L")))
            stack = torch.cat(loaded, dim=1) if loaded else torch.zeros(1, 0, *original_size[::-1])
        if stack.shape[1] == n_styles - 1:
            stack = torch.cat([stack, (1 - stack.sum(dim=1, keepdim=True)).clamp_min(0)], dim=1)
        if stack.shape[1] != n_styles:
            raise UserError(f"masks: got {stack.shape[1]} for {n_styles} styles; expected {n_styles} or {n_styles - 1}")
        return F.interpolate(stack, size=size[::-1], mode="bilinear", align_corners=False).clamp(0, 1)

    # --- styles ---------------------------------------------------------------------------

    @torch.inference_mode()
    def encode_style(self, style: ImageLike | StyleCode, size: int = 512, max_size: int = 0,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> StyleCode:
        """Encode a style image once; pass the result to `stylize` for any number of contents."""
        if isinstance(style, StyleCode):
            return style
        image = self.to_tensor(style, size, max_size, max_pixels)
        name = Path(style).stem if isinstance(style, (str, os.PathLike)) else "style"
        return StyleCode(self.model.style_stats(image), image, name)

    def _style_stats_for(self, code: StyleCode, content: torch.Tensor, preserve_color: str) -> AF.FeatureStats:
        if preserve_color == "none":
            return code.stats
        if preserve_color == "histogram":
            recoloured = AF.match_color(code.image, content).clamp(0, 1)
            return self.model.style_stats(recoloured)
        luma = AF.match_luminance(AF.luminance(code.image), AF.luminance(content)).clamp(0, 1)
        return self.model.style_stats(luma.expand(-1, 3, -1, -1))

    # --- stylise --------------------------------------------------------------------------

    @torch.inference_mode()
    def stylize(
        self,
        content: ImageLike,
        style: ImageLike | StyleCode | Sequence[ImageLike | StyleCode],
        *,
        alpha: float = 1.0,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[ImageLike] | torch.Tensor | None = None,
        preserve_color: str = "none",
        content_size: int = 512,
        style_size: int = 512,
        max_size: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Image.Image | torch.Tensor:
        """Stylise one content image.

        Args:
            content: path, PIL image or tensor (3, H, W) / (1, 3, H, W) in [0, 1].
            style: one style or a list (blended by `style_weights`, or placed by `masks`).
            alpha: content–style trade-off in [0, 1] (0: the content reconstructed).
            style_weights: interpolation weights, one per style (normalised; default equal).
            masks: one greyscale mask per style (or one fewer) at the content's original size.
            preserve_color: "none", "histogram" (recolour the style to the content's colour
                mean/covariance first) or "luminance" (stylise luminance only, keep the content's
                chroma).
            content_size / style_size: shorter side in pixels; 0 keeps the image's own size.
            max_size: cap on the longer side of both (0: none).
            max_pixels: refuse image files with more pixels (decompression-bomb guard).

        Returns:
            A PIL image if `content` was a path or PIL image, else a (1, 3, H, W) tensor in [0, 1].
        """
        if preserve_color not in PRESERVE_COLOR:
            raise UserError(f"preserve-color: {preserve_color!r}; expected one of {', '.join(PRESERVE_COLOR)}")
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        codes = [self.encode_style(s, style_size, max_size, max_pixels) for s in styles]
        if isinstance(content, (str, os.PathLike)):
            pil = open_image(content, max_pixels)
            original_size, content_tensor = pil.size, pil_to_tensor(resize_shorter(pil, content_size, max_size))
        else:
            content_tensor = self.to_tensor(content, content_size, max_size)
            original_size = (content.size if isinstance(content, Image.Image)
                             else (content.shape[-1], content.shape[-2]))
        height, width = content_tensor.shape[-2:]
        mask_tensor = None if masks is None else self._masks(masks, original_size, (width, height), len(codes))

        stats = [self._style_stats_for(code, content_tensor, preserve_color) for code in codes]
        network_input = content_tensor
        if preserve_color == "luminance":
            network_input = AF.luminance(content_tensor).expand(-1, 3, -1, -1)
        out = self.model(network_input, stats, style_weights, mask_tensor, alpha).cpu()
        if preserve_color == "luminance":
            out = AF.combine_luminance(out, content_tensor)
        out = out.clamp(0, 1)
        return out if isinstance(content, torch.Tensor) else tensor_to_pil(out)
