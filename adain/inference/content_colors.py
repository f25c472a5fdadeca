"""`content_colors="style"`: the content takes the style's colour mean and covariance before the
transfer (adain.methods.base describes the option).  What every path that offers it shares — the
still image (adain.methods), the tiled one and video (adain.inference.video) — lives here: which
option values and combinations are allowed, and the colour statistics the content takes."""

from __future__ import annotations

from typing import Sequence

import torch

from adain.core.errors import UserError
from adain.nn import functional as AF

CONTENT_COLORS = ("keep", "style")


def check_content_colors(content_colors: str, preserve_color: str = "none", masks=None, stylizer=None) -> None:
    """`content_colors` one of CONTENT_COLORS, and "style" only where it means something: not with
    colour preservation (which keeps the content's colours), nor with masks (one palette per
    region would be needed), nor with a `stylizer` whose style is built in (it reads no style
    image's colours); a one-line UserError otherwise."""
    if content_colors not in CONTENT_COLORS:
        raise UserError(f"content-colors: {content_colors!r}; expected one of {', '.join(CONTENT_COLORS)}")
    if content_colors == "style" and preserve_color != "none":
        raise UserError(f"content-colors style with preserve-color {preserve_color}: expected one of the two "
                        f"(one gives the content the style's colours, the other keeps its own)")
    if content_colors == "style" and masks is not None:
        raise UserError("content-colors style with masks: expected one style or styles blended by weights")
    if content_colors == "style" and stylizer is not None and not stylizer.recolours_style:
        raise UserError(f"content-colors style: {stylizer.name} renders its built-in style and reads no style "
                        f"image's colours; expected a method that does (adain, gatys)")


def style_color_statistics(codes: Sequence, weights: Sequence[float] | None
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The colour mean (1, 3, 1) and covariance (1, 3, 3), float64, that the content takes under
    content_colors="style": of the style images' pixels, mixed by the style weights."""
    if not codes:
        raise UserError("content-colors style: no style image to take the colours from; expected a style "
                        "image (style=… or --style)")
    stats = [AF.color_statistics(code.image[:1]) for code in codes]
    return AF.mixed_color_statistics(stats, AF.normalise_weights(weights, len(codes)))
