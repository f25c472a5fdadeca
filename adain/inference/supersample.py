"""Stylise at N× the working size and reduce the result to it (`supersample=N`).

    out = stylizer.stylize("photo.jpg", "painting.jpg", supersample=2)

A decoder paints its texture at a scale fixed in its own output pixels: the default decoder's
patches are some 20–40 px across whatever the image size, which in a 384–512 px picture reads as
camouflage blotches over the sky and water.  Stylising the content at N× its working size and
reducing the result (antialiased, bilinear) makes that texture N× finer against the picture and
the photo's outlines N× sharper; the style is encoded as without it (its strokes are the decoder's
concern).  Judged blind on pairs from outside the training data at 384 px, ×2 was preferred to ×1
in 91 % of 192 choices and to Magenta's model in 64 % on pairing C's paintings, in 4 % on pairing
D's mosaics and ink (experiments/eval/artefacts/README.md).  It
costs N² the stylisation's time and memory, so "auto" (the default) supersamples ×2 only where
that is cheap: a working image whose shorter side is at most `AUTO_MAX_SIDE` (512 px, the command
line's default content size); larger images, and so every 4K and 8K bound, are stylised as they are.

Masks are brought to the enlarged size and histogram colour preservation acts there; luminance-only
transfer gives the reduced result the working-size content's own chroma, and photo mode smooths it
with that content as guide.  The module is light until called
(the command line checks the factor before loading torch).
"""

from __future__ import annotations

import os

from adain.core.errors import UserError

SUPERSAMPLE_FACTORS = (1, 2, 3, 4)
AUTO_MAX_SIDE = 512  # px: "auto" supersamples a working image whose shorter side is at most this


def check_supersample(value: int | str | None, name: str = "supersample") -> int | str:
    """`value` as "auto" (None too) or an int in SUPERSAMPLE_FACTORS; else a one-line UserError
    naming `name` (the command line passes "--supersample")."""
    if value is None or value == "auto":
        return "auto"
    try:
        factor = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):  # e.g. "x2", [2]
        factor = None
    if factor not in SUPERSAMPLE_FACTORS:
        raise UserError(f"{name} {value}: expected auto or {', '.join(map(str, SUPERSAMPLE_FACTORS))} (1: off)")
    return factor


def resolve_supersample(value: int | str | None, width: int, height: int, auto_factor: int) -> int:
    """The factor to use for a working image of width × height: `value` itself, or for "auto"
    `auto_factor` (the method's; 1 for a method that gains nothing) where the shorter side is at
    most AUTO_MAX_SIDE, else 1."""
    value = check_supersample(value)
    if value != "auto":
        return value
    return auto_factor if min(width, height) <= AUTO_MAX_SIDE else 1


def check_supersample_with_upscale(supersample: int | str | None, upscale: int, names: tuple[str, str] = (
        "supersample", "upscale")) -> int | str:
    """`supersample` checked (`check_supersample`); with `upscale` > 1 only 1 or "auto" (then 1:
    the reduced stylisation is not enlarged again) is accepted.  `names`: how the two options are
    called in the message (the command line passes "--supersample", "--upscale")."""
    supersample = check_supersample(supersample, names[0])
    if upscale != 1:
        if supersample not in (1, "auto"):
            raise UserError(f"{names[0]} {supersample} and {names[1]} {upscale}: give one or the other "
                            f"(one enlarges the stylisation, the other reduces it)")
        return 1
    return supersample


def enlarge(image, factor: int):
    """(N, C, H, W) float in [0, 1] → (N, C, H·N, W·N), bicubic: what a supersampled stylisation sees."""
    import torch.nn.functional as F

    return F.interpolate(image.float(), scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


def reduce_to(image, size: tuple[int, int]):
    """(N, C, h, w) float → (N, C, H, W) = `size`, bilinear antialiased (a triangle filter), in [0, 1]."""
    import torch.nn.functional as F

    return F.interpolate(image.float(), size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def stylize_supersampled(stylizer, content, style, factor: int | str | None, *, content_size: int = 512,
                         max_size: int = 0, max_pixels: int | None = None, masks=None, photo: bool = False,
                         photo_radius: int = 0, photo_eps: float = 1e-3, preserve_color: str = "none", **options):
    """`stylizer.stylize(content, style, …)` with the content at `factor`× its working size (the
    working size: `content_size`, `max_size` as `stylize` applies them), the result reduced to the
    working size.  `factor`: as `resolve_supersample` takes it.  Returns what `stylize` returns: a
    PIL image for a path or PIL content, else an (N, 3, H, W) float tensor in [0, 1]."""
    import torch

    from adain.core.io import (DEFAULT_MAX_PIXELS, masks_to_tensor, open_image, pil_to_tensor, resize_shorter,
                               scaled_size, tensor_to_pil, to_rgb)

    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    original_size = _original_size(content)
    if original_size is None:  # an unreadable file: `stylize` names it below; "auto" is then 1
        factor = resolve_supersample(factor, 0, 0, auto_factor=1)
    else:
        working_size = scaled_size(*original_size, content_size, max_size) or original_size
        factor = resolve_supersample(factor, *working_size, auto_factor=getattr(stylizer, "auto_supersample", 1))
    if factor == 1:  # the content untouched: a file is decoded once, by `stylize` (its own memory budget)
        return stylizer.stylize(content, style, content_size=content_size, max_size=max_size, max_pixels=max_pixels,
                                masks=masks, photo=photo, photo_radius=photo_radius, photo_eps=photo_eps,
                                preserve_color=preserve_color, supersample=1, **options)
    # the working-size content, (N, 3, H, W) float, brought there as `stylize` would bring it; the
    # enlargement is made from it in every case (file, PIL, tensor, batch), so all give one result
    if isinstance(content, torch.Tensor):
        working = stylizer.to_tensor(content, content_size, max_size)
    else:
        pil = open_image(content, max_pixels) if isinstance(content, (str, os.PathLike)) else to_rgb(content)
        original_size = pil.size
        working = pil_to_tensor(resize_shorter(pil, content_size, max_size))
        del pil
    height, width = working.shape[-2:]
    big = enlarge(working, factor)
    if masks is not None:  # (1, K, H·N, W·N): the masks at the enlarged size
        n_styles = len(style) if isinstance(style, (list, tuple)) else 1
        masks = masks_to_tensor(masks, original_size, (width * factor, height * factor), n_styles)
    stylised = stylizer.stylize(big, style, masks=masks, content_size=0, max_size=0, max_pixels=max_pixels,
                                preserve_color=preserve_color, supersample=1, **options)  # (N, 3, H·N, W·N)
    del big
    out = reduce_to(stylised, (height, width))
    if preserve_color == "luminance":  # exactly the content's chroma, not a resampled copy of it
        from adain.nn.functional import combine_luminance

        out = combine_luminance(out, working).clamp(0, 1)
    if photo:  # smoothed at the working size, the working-size content as guide
        from adain.inference.guided_filter import photo_smooth

        out = photo_smooth(out, working, photo_radius, photo_eps)
    return out if isinstance(content, torch.Tensor) else tensor_to_pil(out)


def _original_size(content) -> tuple[int, int] | None:
    """(W, H) of a tensor, PIL image or image file (its header only; EXIF rotation may swap W and H,
    which leaves the shorter side, all "auto" looks at, the same); None where a file cannot be read
    (`stylize` then reports it)."""
    from PIL import Image

    if hasattr(content, "shape"):
        return content.shape[-1], content.shape[-2]
    if isinstance(content, Image.Image):
        return content.size
    try:
        with Image.open(content) as image:
            return image.size
    except Exception:  # noqa: BLE001 - any unreadable file: stylize's own error names it
        return None
