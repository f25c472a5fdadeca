"""adain: arbitrary neural style transfer (Huang & Belongie 2017) with its classic baselines.

Importing this package is cheap: torch is imported only when a model is loaded.

    import adain
    model = adain.load()                        # the shipped decoder, fast path on this machine
    image = model.stylize("photo.jpg", "painting.jpg", alpha=0.8)
    image.save("out.jpg")
"""

__version__ = "0.1.0"
__all__ = ["load", "__version__"]


def load(*args, **kwargs):
    """Build a ready-to-use `adain.api.Stylizer`; see its docstring for the arguments."""
    from adain.api import load as _load

    return _load(*args, **kwargs)
