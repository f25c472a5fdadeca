"""AdaIN (Huang & Belongie 2017) behind the Stylizer interface: one forward pass per content.

    stylizer = load_adain()                              # the shipped decoder, fast path here
    out = stylizer.stylize("photo.jpg", "art.jpg", alpha=0.8)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import DEFAULT_MAX_PIXELS, open_image, resize_shorter, scaled_size, to_rgb
from adain.core.io import masks_to_tensor
from adain.core.runtime import compile_with_fallback, prepare_for_inference, resolve_device, resolve_dtype
from adain.inference import tiling
from adain.inference.content_colors import check_content_colors, style_color_statistics
from adain.inference.supersample import check_supersample_with_upscale
from adain.methods.base import StyleCode, Stylizer, check_preserve_color, grey_rgb
from adain.nn import functional as AF
from adain.nn.decoder import load_decoder
from adain.nn.model import AdaINModel
from adain.nn.pretrained import build_encoder
from adain.nn.weights import SHIPPED_DIR

WEIGHTS = SHIPPED_DIR
# The default: vgg16-imagenet encoder, a decoder with palette and skip inputs (docs/history.md tells
# how it was trained; its JSON description holds the recipe and its figures).
SHIPPED_DECODER = WEIGHTS / "decoder-vgg16-imagenet-mix.safetensors"


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
    compile: bool = False,
) -> "AdaINStylizer":
    """Build an AdaIN Stylizer.

    Args:
        decoder: decoder file (.safetensors, a train.py checkpoint, or the port's decoder.pth);
            default: the decoder shipped in the package.
        encoder: encoder name; default: the one the decoder was trained with.
        device: "auto", "cpu" or "cuda[:N]".
        precision: "auto" (bf16 where the hardware is fast at it), "bf16" or "fp32".
        encoder_weights: a local copy of the encoder's original weight file.
        compile: torch.compile encoder and decoder (worth it on CUDA for many images; the
            first call compiles; falls back to eager where compiling fails).
    """
    decoder_module, metadata = load_decoder(decoder if decoder is not None else default_decoder_path())
    encoder_module = build_encoder(encoder or metadata["encoder"], weights_path=encoder_weights)
    target_device = resolve_device(device)
    dtype = resolve_dtype(precision, target_device)
    model = prepare_for_inference(AdaINModel(encoder_module, decoder_module), target_device, dtype)
    if compile:
        compile_with_fallback(model.encoder, "encoder")
        compile_with_fallback(model.decoder, "decoder")
    return AdaINStylizer(model, metadata)


class AdaINStylizer(Stylizer):
    """Stylise with a frozen AdaIN model; all work runs under inference_mode.

    Options of `stylize`: alpha (content–style trade-off in [0, 1], 0 reconstructs the content);
    content_stats_hook (the content statistics → those to normalise with; adain.inference.video smooths
    them across frames);
    tile (px; 0: never tile) and max_memory (bytes) for large images, see adain.inference.tiling: by
    default only images that would not fit untiled in what the process may add for them
    (tiling.default_headroom on the CPU, the free GPU memory on CUDA) are tiled.
    """

    name = "adain"
    # the decoder's texture is 20–40 px whatever the size: ×2 halves it where pictures are small
    auto_supersample = 2

    def __init__(self, model: AdaINModel, metadata: dict | None = None):
        self.model = model
        self.metadata = metadata or {}

    def _style_features(self, image: torch.Tensor) -> AF.FeatureStats:
        return self.model.style_stats(image)  # relu4_1 mean/std, (1, 512, 1, 1) each

    @torch.inference_mode()
    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None, alpha: float = 1.0, content_stats_hook=None) -> torch.Tensor:
        return self.model(content, [code.features for code in styles], weights, masks, alpha, content_stats_hook)

    @torch.inference_mode()
    def stylize(self, content, style, *, tile: int | None = None, max_memory: int | None = None, upscale: int = 1,
                supersample: int | str = "auto", **kwargs):
        supersample = check_supersample_with_upscale(supersample, upscale)
        if supersample != 1:  # tile and max_memory then apply to the enlarged stylisation
            from adain.inference.supersample import stylize_supersampled

            return stylize_supersampled(self, content, style, supersample, tile=tile, max_memory=max_memory, **kwargs)
        if upscale != 1:  # tile and max_memory then apply to the reduced stylisation
            from adain.inference.superres.stylize import stylize_upscaled

            return stylize_upscaled(self, content, style, upscale, tile=tile, max_memory=max_memory, **kwargs)
        if tile == 0 or (isinstance(content, torch.Tensor) and content.dim() == 4 and content.shape[0] > 1):
            return super().stylize(content, style, supersample=1, **kwargs)  # batches run untiled
        image_bytes = tiling.IMAGE_BYTES_PER_PIXEL
        if isinstance(content, (str, os.PathLike)):  # decoded once, kept as uint8
            content = open_image(content, kwargs.get("max_pixels", DEFAULT_MAX_PIXELS))
            image_bytes = tiling.OWN_IMAGE_BYTES_PER_PIXEL  # no caller holds the decoded image
        content_size, max_size = kwargs.get("content_size", 512), kwargs.get("max_size", 0)
        if isinstance(content, Image.Image):
            content = content if content.mode == "RGB" else to_rgb(content)  # convert() would copy
            width, height = scaled_size(content.width, content.height, content_size, max_size) or content.size
        else:
            pixels = self.to_tensor(content, content_size, max_size)
            height, width = pixels.shape[-2:]
        plan = tiling.choose_tile(self.model, height, width, tile, max_memory, image_bytes_per_pixel=image_bytes,
                                  masked=kwargs.get("masks") is not None)
        if plan is None:  # the untiled path resizes the content itself: nothing is resized twice
            return super().stylize(content, style, supersample=1, **kwargs)
        if isinstance(content, Image.Image):
            pixels = np.asarray(resize_shorter(content, content_size, max_size))  # (H, W, 3) uint8
        original_size = content.size if isinstance(content, Image.Image) else (content.shape[-1], content.shape[-2])
        as_tensor = isinstance(content, torch.Tensor)
        del content  # a decoded file (4 B/pixel in PIL) is not needed beside its uint8 array
        return self._stylize_tiled(pixels, original_size, as_tensor, style, plan, **kwargs)

    stylize.__doc__ = Stylizer.stylize.__doc__

    def _stylize_tiled(self, pixels: np.ndarray | torch.Tensor, original_size: tuple[int, int], as_tensor: bool,
                       style, plan: tiling.TilePlan, *,
                       style_weights: Sequence[float] | None = None, masks=None, preserve_color: str = "none",
                       content_colors: str = "keep",
                       content_size: int = 512, style_size: int = 512, max_size: int = 0,
                       max_pixels: int = DEFAULT_MAX_PIXELS, alpha: float = 1.0,
                       style_scale=None, photo: bool = False, photo_radius: int = 0, photo_eps: float = 1e-3,
                       content_stats_hook=None):
        """`stylize` for one large content: the same steps as Stylizer.stylize, with everything
        that needs the whole image (content statistics, colour statistics) accumulated tile by
        tile and the output built in a uint8 buffer (float for tensor content).

        `pixels` is the content at its working size, (H, W, 3) uint8 or (1, 3, H, W) float;
        `original_size` (W, H) the size masks must have.
        """
        check_preserve_color(preserve_color)
        check_content_colors(content_colors, preserve_color, masks)
        if not 0.0 <= alpha <= 1.0:
            raise UserError(f"alpha: {alpha} is outside [0, 1]")
        codes = self._style_codes(style, style_size, max_size, max_pixels, style_scale)
        image = tiling.TiledImage(pixels)
        del pixels
        region_masks = masks_at_taps = None
        if masks is not None:  # (1, K, H, W) float for a moment, then (1, K, H/8, W/8)
            full_size = masks_to_tensor(masks, original_size, (image.width, image.height), len(codes))
            region_masks = tiling.mask_cells(full_size)
            if self.model.skip_taps:  # and at each skip tap's size, down to relu1_1's full resolution
                masks_at_taps = tiling.tap_masks(full_size, self.model.skip_taps)
            del full_size

        transform = finish = None
        if content_colors == "style":  # each tile recoloured with the whole image's statistics
            own, target = tiling.color_statistics(image), style_color_statistics(codes, style_weights)

            def transform(rgb: torch.Tensor) -> torch.Tensor:  # (1, 3, h, w) → the same, recoloured
                return AF.recolor(rgb, own, target).clamp(0, 1)

        if preserve_color != "none":
            color_stats = tiling.color_statistics(image)
            codes = [self.style_in_content_colors(code, preserve_color, color_stats=color_stats) for code in codes]
        if preserve_color == "luminance":
            transform, finish = grey_rgb, AF.combine_luminance
        style_stats = [code.features for code in codes]
        content_stats, features = tiling.content_statistics(self.model, image, plan.tile, region_masks, transform,
                                                            keep_features=plan.keep_features,
                                                            feature_dtype=plan.feature_dtype,
                                                            masks_at_taps=masks_at_taps)
        if content_stats_hook is not None:
            content_stats = content_stats_hook(content_stats)
        out = tiling.stylize_tiled(self.model, image, style_stats, content_stats, plan.tile, style_weights,
                                   region_masks, alpha, transform, finish, as_tensor, features=features,
                                   masks_at_taps=masks_at_taps)
        if photo:  # edge-aware smoothing guided by the content, band by band over the uint8 buffers
            from adain.inference.guided_filter import photo_smooth, photo_smooth_bands

            if as_tensor:
                out.data = photo_smooth(out.data, image.pixels.float(), photo_radius, photo_eps)
            else:
                photo_smooth_bands(out.data, image.pixels, photo_radius, photo_eps)
        del image, features  # before the PIL copy of the output (4 B/pixel)
        return out.data if as_tensor else Image.fromarray(out.data, mode="RGB")


def from_cli(args) -> tuple[AdaINStylizer, dict]:
    """`adain stylize --method adain`: the Stylizer and its per-image options from parsed flags."""
    stylizer = load_adain(args.decoder, args.encoder, args.device, args.precision, args.encoder_weights,
                          compile=getattr(args, "compile", False))
    return stylizer, {"alpha": args.alpha, "tile": getattr(args, "tile", None),
                      "max_memory": getattr(args, "max_memory", None)}
