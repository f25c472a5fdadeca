"""The interface every style-transfer method implements: `Stylizer`.

A method turns content (1 or N images) and one or more styles into stylised images.  Loading,
resizing, masks and colour preservation are the same for every method and live here; a method
only implements `_style_features` (what it precomputes per style, once) and `_stylize` (the
transfer itself on tensors).

    stylizer = adain.methods.load_method("gatys", iterations=300)
    image = stylizer.stylize("photo.jpg", "painting.jpg", preserve_color="luminance")

Colour preservation (Gatys et al. 2016, "Preserving color in neural artistic style transfer"):
  histogram — the style image is recoloured to the content's colour mean/covariance before
              the transfer (methods whose style is fixed, like Johnson, match the *output's*
              colours to the content instead; see `recolours_style`);
  luminance — the transfer runs on luminance images and the content's chroma is put back.

The other way round, `content_colors="style"`: the content takes the style's colour mean and
covariance (several styles: of their pixels mixed by the style weights) before the transfer, so
that the photo's own colours do not come through where the style has none of them (a grey mosaic,
ink on cream).  Judged blind (experiments/eval/artefacts/README.md) it was preferred in 72–77 % of
choices on artworks whose palette is far from the photo's, and in 41–44 % under paintings: an option,
not the default.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import torch
import torch.nn.functional as F
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import (DEFAULT_MAX_PIXELS, masks_to_tensor, open_image, pil_to_tensor, resize_shorter, scaled_size,
                           tensor_to_pil, to_rgb)
from adain.inference.content_colors import check_content_colors, style_color_statistics
from adain.inference.supersample import check_supersample_with_upscale
from adain.nn import functional as AF

ImageLike = Union[str, os.PathLike, Image.Image, torch.Tensor]
PRESERVE_COLOR = ("none", "histogram", "luminance")


@dataclass
class StyleCode:
    """A style prepared once: the image (1, 3, H, W) in [0, 1] and what the method precomputed
    from it (`features`; AdaIN: relu4_1 statistics, Gatys: Gram matrices, Johnson: None).

    The image is kept because colour preservation recolours the style for each content.
    """

    image: torch.Tensor
    features: Any = None
    name: str = "style"
    #: the sizes, relative to `image`, the features were computed at and averaged over (stroke size)
    scales: tuple[float, ...] = (1.0,)
    #: already recoloured for colour preservation (a video recolours its style once, adain.inference.video)
    recoloured: bool = False


def to_tensor(image: ImageLike, size: int = 0, max_size: int = 0,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Any image-like → (N, 3, H, W) float32 RGB in [0, 1], shorter side `size` (0: as is)."""
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


def style_scales(style_scale: float | Sequence[float] | None) -> tuple[float, ...] | None:
    """`style_scale` as a tuple of validated factors; None stays None ("as encoded", else 1).

    Stroke size (how Magenta and the WCT code expose it): the style image is encoded at S times
    the size it would otherwise have, so the same feature statistics describe strokes S times
    larger in pixels, and the output's strokes grow with S.  Several factors average their
    statistics (`average_features`).
    """
    if style_scale is None:
        return None
    scales = (style_scale,) if isinstance(style_scale, (int, float)) else tuple(style_scale)
    if not scales:
        raise UserError("style scale: expected at least one factor")
    for scale in scales:
        if not (isinstance(scale, (int, float)) and 0.05 <= float(scale) <= 16):
            raise UserError(f"style scale: {scale!r}; expected a factor in [0.05, 16]")
    return tuple(float(scale) for scale in scales)


def rescale(image: torch.Tensor, scale: float, min_side: int = 16) -> torch.Tensor:
    """(N, 3, H, W) → (N, 3, round(H·scale), round(W·scale)), bicubic (antialiased when shrinking)."""
    if scale == 1.0:
        return image
    size = (round(image.shape[-2] * scale), round(image.shape[-1] * scale))
    if min(size) < min_side:
        raise UserError(f"style scale {scale:g}: the style would be {size[1]}×{size[0]} px; "
                        f"expected at least {min_side} px a side (raise --style-size or the scale)")
    return F.interpolate(image.float(), size=size, mode="bicubic", antialias=scale < 1,
                         align_corners=False).clamp(0, 1)


def average_features(features: Sequence[Any]) -> Any:
    """The mean of what `_style_features` returned at several scales: AdaIN statistics (μ and σ
    averaged, as `functional.blend_stats` blends styles), Gatys Gram matrices (per layer), tensors."""
    first = features[0]
    if len(features) == 1 or first is None:
        return first
    if isinstance(first, AF.FeatureStats):
        return AF.blend_stats(features, [1.0 / len(features)] * len(features))
    if isinstance(first, dict):
        return {key: average_features([f[key] for f in features]) for key in first}
    if isinstance(first, torch.Tensor):
        return torch.stack(list(features)).mean(dim=0)
    raise TypeError(f"cannot average style features of type {type(first).__name__}")


def check_preserve_color(preserve_color: str) -> None:
    if preserve_color not in PRESERVE_COLOR:
        raise UserError(f"preserve-color: {preserve_color!r}; expected one of {', '.join(PRESERVE_COLOR)}")


def grey_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → its luminance in all three channels: what the network sees under
    luminance-only transfer."""
    return AF.luminance(rgb).expand(-1, 3, -1, -1).contiguous()


class Stylizer(ABC):
    """Content + style(s) → stylised image(s).  Subclasses: AdaINStylizer, GatysStylizer,
    JohnsonStylizer (registered by name in `adain.methods.METHODS`)."""

    name: str = "base"
    #: False for methods whose style is baked into the network (Johnson): histogram colour
    #: preservation then matches the output's colours to the content instead.
    recolours_style: bool = True
    #: whether `_stylize` accepts several styles (weights / masks)
    supports_multiple_styles: bool = True
    #: whether the style image's size matters (`style_scale`); False for a built-in style
    supports_style_scale: bool = True
    #: what `supersample="auto"` uses on a working image of at most 512 px on its shorter side
    #: (adain.inference.supersample); 1: the method gains nothing from it
    auto_supersample: int = 1

    metadata: dict

    to_tensor = staticmethod(to_tensor)

    # --- what a method implements ---------------------------------------------------------

    def _style_features(self, image: torch.Tensor) -> Any:
        """Precompute what the method needs from a style image (1, 3, H, W); default nothing."""
        return None

    @abstractmethod
    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None, **options) -> torch.Tensor:
        """(N, 3, H, W) content in [0, 1] → (N, 3, H, W), unclamped float32.

        `masks` is (N or 1, K, H, W) at the content's working size, one channel per style.
        """

    # --- shared ---------------------------------------------------------------------------

    def encode_style(self, style: ImageLike | StyleCode, size: int = 512, max_size: int = 0,
                     max_pixels: int = DEFAULT_MAX_PIXELS,
                     style_scale: float | Sequence[float] | None = None) -> StyleCode:
        """Prepare a style image once; pass the result to `stylize` for any number of contents.

        `style_scale`: stroke size, one factor or several (see `style_scales`); the features
        are computed from the style resized by each factor and averaged.  A StyleCode passed
        in is returned as is unless `style_scale` asks for other factors.
        """
        scales = style_scales(style_scale)
        if isinstance(style, StyleCode):
            if scales is None or scales == style.scales:
                return style
            image, name = style.image, style.name
        else:
            image = self.to_tensor(style, size, max_size, max_pixels)
            name = Path(style).stem if isinstance(style, (str, os.PathLike)) else "style"
        scales = scales or (1.0,)
        return StyleCode(image, self._features_at_scales(image, scales), name, scales)

    def _features_at_scales(self, image: torch.Tensor, scales: tuple[float, ...]) -> Any:
        """`_style_features` of the style at each scale, averaged (one scale: no averaging)."""
        with torch.inference_mode():
            return average_features([self._style_features(rescale(image, scale)) for scale in scales])

    def stylize_video(self, input: str | os.PathLike, style, output: str | os.PathLike | None = None, **options):
        """Stylise a video file frame by frame with temporal-stability options; returns a
        VideoResult (see `adain.inference.video.stylize_video` for the options)."""
        from adain.inference.video import stylize_video

        return stylize_video(self, input, style, output, **options)

    def style_in_content_colors(self, code: StyleCode, preserve_color: str, content: torch.Tensor | None = None,
                                color_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> StyleCode:
        """The style recoloured to the content's colours (colour preservation, the module
        docstring): from the content image (N, 3, H, W), or from its colour mean (1, 3, 1) and
        covariance (1, 3, 3) when the image is too large to hold as floats (tiled)."""
        if preserve_color == "none" or not self.recolours_style or code.recoloured:
            return code
        if preserve_color == "histogram":
            image = AF.match_color(code.image, None if content is None else content[:1],
                                   target_stats=color_stats).clamp(0, 1)
        else:
            content_luma = None if content is None else AF.luminance(content[:1])
            luma_stats = None if color_stats is None else AF.luminance_statistics(*color_stats)
            image = AF.match_luminance(AF.luminance(code.image), content_luma, content_stats=luma_stats).clamp(0, 1)
            image = image.expand(-1, 3, -1, -1).contiguous()
        return StyleCode(image, self._features_at_scales(image, code.scales), code.name, code.scales)

    def _style_codes(self, style, style_size: int, max_size: int, max_pixels: int,
                     style_scale: float | Sequence[float] | None) -> list[StyleCode]:
        """`stylize`'s style argument (None, one, or a list) → one StyleCode per style, checked
        against what the method supports."""
        styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
        if len(styles) > 1 and not self.supports_multiple_styles:
            raise UserError(f"{self.name}: one style at a time; got {len(styles)}")
        if len(styles) > 0 and not self.supports_style_scale and style_scales(style_scale) not in (None, (1.0,)):
            raise UserError(f"{self.name}: style scale has no effect (the style is built into the network)")
        return [self.encode_style(s, style_size, max_size, max_pixels, style_scale) for s in styles]

    def stylize(
        self,
        content: ImageLike,
        style: ImageLike | StyleCode | Sequence[ImageLike | StyleCode] | None,
        *,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[ImageLike] | torch.Tensor | None = None,
        preserve_color: str = "none",
        content_colors: str = "keep",
        content_size: int = 512,
        style_size: int = 512,
        max_size: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        style_scale: float | Sequence[float] | None = None,
        photo: bool = False,
        photo_radius: int = 0,
        photo_eps: float = 1e-3,
        upscale: int = 1,
        supersample: int | str = "auto",
        **options,
    ) -> Image.Image | torch.Tensor:
        """Stylise one content image (or a batch given as an (N, 3, H, W) tensor).

        Args:
            content: path, PIL image or tensor (3, H, W) / (N, 3, H, W) in [0, 1].
            style: one style or a list (blended by `style_weights`, or placed by `masks`);
                a method whose style is built in (Johnson) also accepts None.
            style_weights: interpolation weights, one per style (normalised; default equal).
            masks: one greyscale mask per style (or one fewer) at the content's original size.
            preserve_color: "none", "histogram" or "luminance" (see the module docstring).
            content_colors: "keep", or "style": the content first takes the style's colour mean
                and covariance (the module docstring).
            content_size / style_size: shorter side in pixels; 0 keeps the image's own size.
            max_size: cap on the longer side of both (0: none).
            max_pixels: refuse image files with more pixels (decompression-bomb guard).
            style_scale: stroke size: the style is encoded at this factor times `style_size`
                (several factors: their statistics are averaged); None keeps a StyleCode's own.
            photo: structure-preserving photo mode: the result is smoothed edge-aware with the
                content as guide (adain.inference.guided_filter; photo_radius 0: 35 px per 512 px of the
                shorter side; photo_eps: the filter's ε on [0, 1] intensities).
            upscale: N > 1 stylises at 1/N of the working size and super-resolves ×N back to it
                (2, 3 or 4; adain.inference.superres.stylize); everything else acts at the reduced size.
            supersample: N > 1 stylises at N× the working size and reduces the result to it (finer
                texture, sharper outlines, N² the time; adain.inference.supersample); "auto": the
                method's `auto_supersample` where the working image's shorter side is ≤ 512 px, else 1.
            **options: the method's own settings (AdaIN: alpha; Gatys: iterations, …).

        Returns:
            A PIL image if `content` was a path or PIL image, else an (N, 3, H, W) tensor in [0, 1].
        """
        check_preserve_color(preserve_color)
        check_content_colors(content_colors, preserve_color, masks, self)
        supersample = check_supersample_with_upscale(supersample, upscale)
        if upscale != 1:
            from adain.inference.superres.stylize import stylize_upscaled

            return stylize_upscaled(self, content, style, upscale, style_weights=style_weights, masks=masks,
                                    preserve_color=preserve_color, content_colors=content_colors,
                                    content_size=content_size, style_size=style_size,
                                    max_size=max_size, max_pixels=max_pixels, style_scale=style_scale, photo=photo,
                                    photo_radius=photo_radius, photo_eps=photo_eps, **options)
        if supersample != 1:
            from adain.inference.supersample import stylize_supersampled

            return stylize_supersampled(self, content, style, supersample, style_weights=style_weights, masks=masks,
                                        preserve_color=preserve_color, content_colors=content_colors,
                                        content_size=content_size,
                                        style_size=style_size, max_size=max_size, max_pixels=max_pixels,
                                        style_scale=style_scale, photo=photo, photo_radius=photo_radius,
                                        photo_eps=photo_eps, **options)
        codes = self._style_codes(style, style_size, max_size, max_pixels, style_scale)
        photo_options = dict(photo=photo, photo_radius=photo_radius, photo_eps=photo_eps)
        if isinstance(content, (str, os.PathLike)):
            pil = open_image(content, max_pixels)
            original_size, content_tensor = pil.size, pil_to_tensor(resize_shorter(pil, content_size, max_size))
        else:
            content_tensor = self.to_tensor(content, content_size, max_size)
            original_size = (content.size if isinstance(content, Image.Image)
                             else (content.shape[-1], content.shape[-2]))
        if content_tensor.shape[0] > 1 and preserve_color != "none":
            # each content recolours the style to its own colours: one at a time
            return torch.cat([self.stylize(item, codes, style_weights=style_weights, masks=masks,
                                           preserve_color=preserve_color, content_size=0, max_size=0,
                                           max_pixels=max_pixels, supersample=1, **photo_options, **options)
                              for item in content_tensor.split(1)])
        height, width = content_tensor.shape[-2:]
        mask_tensor = None if masks is None else masks_to_tensor(masks, original_size, (width, height), len(codes))

        codes = [self.style_in_content_colors(code, preserve_color, content_tensor) for code in codes]
        network_input = grey_rgb(content_tensor) if preserve_color == "luminance" else content_tensor
        if content_colors == "style":  # each content from its own colours to the styles' (N, 3, H, W)
            target = style_color_statistics(codes, style_weights)
            network_input = AF.recolor(content_tensor, AF.color_statistics(content_tensor), target).clamp(0, 1)
        out = self._stylize(network_input, codes, style_weights, mask_tensor, **options).float().cpu()
        if preserve_color == "luminance":
            out = AF.combine_luminance(out, content_tensor)
        elif preserve_color == "histogram" and not self.recolours_style:
            out = AF.match_color(out.clamp(0, 1), content_tensor)
        out = out.clamp(0, 1)
        if photo:
            from adain.inference.guided_filter import photo_smooth

            out = photo_smooth(out, content_tensor, photo_radius, photo_eps)
        return out if isinstance(content, torch.Tensor) else tensor_to_pil(out)
