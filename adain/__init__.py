"""adain: arbitrary neural style transfer (Huang & Belongie 2017) with its classic baselines.

Importing this package is cheap: torch is imported only when a model is loaded.

    import adain
    model = adain.load()                        # the shipped decoder, fast path on this machine
    image = model.stylize("photo.jpg", "painting.jpg", alpha=0.8)
    image.save("out.jpg")

    gatys = adain.load_method("gatys")          # any registered method: adain, gatys, johnson
"""

__version__ = "0.1.0"
__all__ = ["load", "load_method", "__version__"]


def load(*args, **kwargs):
    """Build a ready-to-use `adain.api.Stylizer`; see its docstring for the arguments."""
    from adain.api import load as _load

    return _load(*args, **kwargs)


def load_method(name: str, **settings):
    """Build the `adain.methods.base.Stylizer` registered as `name` (adain, gatys, johnson)."""
    from adain.methods import load_method as _load_method

    return _load_method(name, **settings)
