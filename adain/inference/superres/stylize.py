"""Stylise at 1/N of the requested size, then super-resolve ×N to it (`upscale=N`).

    out = stylizer.stylize("photo_4k.jpg", "painting.jpg", content_size=0, upscale=4)

The content is brought to its working size (W, H) as usual (content_size, max_size), padded at
the right and bottom by reflection to a multiple of N, reduced by exactly N (antialiased
bicubic) and stylised there with every other option unchanged: masks, colour preservation and
photo mode all act at the reduced size.  The result is super-resolved ×N in tiles
(adain.inference.superres.upscale) and cropped back to (W, H), so the output has the size the full-size
run would have.  Brush strokes come out N times larger in output pixels than in a full-size run
with the same style size (the stylisation sees N times fewer pixels); experiments/superres
measures it.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import DEFAULT_MAX_PIXELS, masks_to_tensor, open_image, pil_to_tensor, resize_shorter, to_rgb
from adain.core.runtime import process_memory
from adain.inference.superres.factors import check_upscale
from adain.inference.superres.upscale import upscale


def reduce_image(image: Image.Image | torch.Tensor, factor: int) -> torch.Tensor:
    """(W, H) PIL image or (1, C, H, W) tensor → (1, C, ⌈H/N⌉, ⌈W/N⌉) float in [0, 1]: reflected
    at the right and bottom to multiples of N, then reduced by exactly N (antialiased bicubic)."""
    width, height = image.size if isinstance(image, Image.Image) else (image.shape[-1], image.shape[-2])
    small_w, small_h = math.ceil(width / factor), math.ceil(height / factor)
    if min(small_w, small_h) < 2:
        raise UserError(f"upscale {factor}: the content is {width}×{height} px; expected at least {2 * factor} px a side")
    pad_w, pad_h = small_w * factor - width, small_h * factor - height
    if isinstance(image, Image.Image):  # uint8 throughout: 3 B per pixel of the full-size content
        pixels = np.pad(np.asarray(image), ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        return pil_to_tensor(Image.fromarray(pixels).resize((small_w, small_h), Image.Resampling.BICUBIC))
    padded = F.pad(image.float(), (0, pad_w, 0, pad_h), mode="reflect") if pad_w or pad_h else image.float()
    return F.interpolate(padded, size=(small_h, small_w), mode="bicubic", antialias=True).clamp(0, 1)


def _reduced_masks(masks, original_size: tuple[int, int], size: tuple[int, int], factor: int,
                   n_styles: int) -> torch.Tensor:
    """Masks at the content's original (W, H) → (1, K, ⌈H'/N⌉, ⌈W'/N⌉) for the working (W', H')."""
    return reduce_image(masks_to_tensor(masks, original_size, size, n_styles), factor)


def _device_and_precision(stylizer) -> tuple[torch.device, str]:
    """Where and in what precision the stylizer's networks run: the super-resolution network
    follows them (an AdaIN model's dtype; "auto" for a method that does not say)."""
    model = getattr(stylizer, "model", None)
    device = getattr(model, "device", None) or getattr(stylizer, "device", None)
    dtype = getattr(model, "dtype", None) or getattr(stylizer, "dtype", None)
    precision = {torch.float32: "fp32", torch.bfloat16: "bf16"}.get(dtype, "auto")
    return (torch.device(device) if device is not None else torch.device("cpu")), precision


def stylize_upscaled(stylizer, content, style, factor: int, *, content_size: int = 512, max_size: int = 0,
                     max_pixels: int = DEFAULT_MAX_PIXELS, masks=None, **options):
    """`stylizer.stylize(content, style, …)` at 1/`factor` of the working size, super-resolved
    ×`factor` back to it.  Returns what `stylize` returns: a PIL image for a path or PIL content,
    else a (N, 3, H, W) float tensor in [0, 1]."""
    factor = check_upscale(factor)
    if factor == 1:
        return stylizer.stylize(content, style, content_size=content_size, max_size=max_size,
                                max_pixels=max_pixels, masks=masks, **options)
    if isinstance(content, torch.Tensor) and content.dim() == 4 and content.shape[0] > 1:
        return torch.cat([stylize_upscaled(stylizer, item, style, factor, content_size=content_size,
                                           max_size=max_size, max_pixels=max_pixels, masks=masks, **options)
                          for item in content.split(1)])
    if isinstance(content, torch.Tensor):
        original_size = (content.shape[-1], content.shape[-2])
        image = stylizer.to_tensor(content, content_size, max_size)  # (1, 3, H, W)
        width, height = image.shape[-1], image.shape[-2]
    else:
        pil = open_image(content, max_pixels) if isinstance(content, (str, os.PathLike)) else to_rgb(content)
        original_size = pil.size
        image = resize_shorter(pil, content_size, max_size)
        del pil
        width, height = image.size
    small = reduce_image(image, factor)
    del image
    if masks is not None:
        n_styles = len(style) if isinstance(style, (list, tuple)) else 1
        masks = _reduced_masks(masks, original_size, (width, height), factor, n_styles)
    stylised = stylizer.stylize(small, style, content_size=0, max_size=0, max_pixels=max_pixels, masks=masks,
                                supersample=1, **options)  # (1, 3, h, w); not supersampled: strokes N× larger
    device, precision = _device_and_precision(stylizer)
    available = None
    if device.type == "cpu":  # what the tiles may add, as adain.inference.tiling budgets a stylisation
        from adain.inference import tiling

        max_memory = options.get("max_memory")
        output_bytes = (12 if isinstance(content, torch.Tensor) else 3) * height * width  # the result
        available = ((max_memory - (process_memory() or 0)) if max_memory is not None
                     else tiling.default_headroom(height, width)) - output_bytes
    as_tensor = isinstance(content, torch.Tensor)
    out = upscale(stylised, factor, device=device, precision=precision, available=available, as_uint8=not as_tensor)
    if as_tensor:
        return out[..., :height, :width]
    return Image.fromarray(np.ascontiguousarray(out[:height, :width]), mode="RGB")
