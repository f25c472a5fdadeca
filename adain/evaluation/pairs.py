"""Which content × style pairs a method variant runs on, and the images at protocol size.

Protocol (design.md; tools/protocol.py): content = centre square crop resized to size²,
style = shorter side style_size, both RGB in [0, 1].  Contents and styles are sorted by path;
`max_contents` / `max_styles` keep the first N.  Every content meets every style, except that a
method entry with `styles: [...]` (a Johnson network trained on one style) only meets those.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from adain.core.io import open_image, pil_to_tensor, resize_shorter
from adain.train.data import center_square, list_images


@dataclass(frozen=True)
class Pair:
    content: Path
    style: Path

    @property
    def name(self) -> str:
        return f"{self.content.stem}__{self.style.stem}"


def matches(style: Path, wanted: list[str]) -> bool:
    return not wanted or style.stem in wanted or style.name in wanted or str(style) in wanted


def pairs_for(variant) -> list[Pair]:
    """All pairs of a variant (none when its `styles` filter matches no style in use);
    UserError when a source is not a folder or manifest of images."""
    contents = list_images(variant.content)
    styles = list_images(variant.style)
    if variant.max_contents:
        contents = contents[: variant.max_contents]
    if variant.max_styles:
        styles = styles[: variant.max_styles]
    return [Pair(c, s) for c in contents for s in styles if matches(s, variant.styles)]


class ImageStore:
    """Protocol-size tensors (1, 3, H, W) of contents and styles, loaded once each."""

    def __init__(self):
        self._images: dict[tuple, torch.Tensor] = {}

    def content(self, path: Path, size: int) -> torch.Tensor:
        key = ("content", path, size)
        if key not in self._images:
            self._images[key] = pil_to_tensor(center_square(open_image(path), size))
        return self._images[key]

    def style(self, path: Path, size: int) -> torch.Tensor:
        key = ("style", path, size)
        if key not in self._images:
            self._images[key] = pil_to_tensor(resize_shorter(open_image(path), size))
        return self._images[key]
