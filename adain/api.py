"""The Python API: `adain.load()` → an AdaIN `Stylizer`; other methods via `adain.methods`.

Kept as the stable import path of the first release; the implementations live in
`adain.methods` (the interface in `adain.methods.base`, AdaIN in `adain.methods.adain`).
"""

from __future__ import annotations

from adain.methods import METHODS, load_method
from adain.methods.adain import SHIPPED_DECODER, AdaINStylizer, default_decoder_path, load_adain
from adain.methods.base import PRESERVE_COLOR, ImageLike, StyleCode, Stylizer

load = load_adain

__all__ = ["load", "load_method", "METHODS", "Stylizer", "AdaINStylizer", "StyleCode", "ImageLike",
           "PRESERVE_COLOR", "SHIPPED_DECODER", "default_decoder_path"]
