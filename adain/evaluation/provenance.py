"""Which network a method was trained or optimised on, so the report can say when a measure is
computed with that same network (a measure a method was trained on flatters it).

    trained_encoder("adain", {"decoder": "adain/weights/decoder-vgg16-hed.safetensors"})  # "vgg16-hed"

AdaIN: the decoder's description names its encoder (adain/weights/*.json, the safetensors
header, or a training checkpoint's config); an `encoder` setting overrides it.  Gatys: the
encoder it optimises with (default vgg16-hed).  Johnson: the encoder of its loss network, from
its description.  Magenta and unknown methods: None (trained on none of the measures' networks).
"""

from __future__ import annotations

from adain.core.errors import UserError


def trained_encoder(name: str, settings: dict) -> str | None:
    """The encoder a method variant was trained or optimised with, or None when unknown/none."""
    try:
        if name == "adain":
            if settings.get("encoder"):
                return str(settings["encoder"])
            from adain.methods.adain import default_decoder_path
            from adain.nn.decoder import load_decoder

            return load_decoder(settings.get("decoder") or default_decoder_path())[1].get("encoder")
        if name == "gatys":
            from adain.nn.encoders import DEFAULT_ENCODER

            return str(settings.get("encoder") or DEFAULT_ENCODER)
        if name == "johnson" and settings.get("model"):
            from adain.methods.johnson.stylizer import load_transformer

            return load_transformer(settings["model"])[1].get("encoder")
    except (UserError, OSError, ValueError):
        return None
    return None
