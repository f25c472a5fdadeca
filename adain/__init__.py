"""adain: arbitrary neural style transfer (Huang & Belongie 2017) with its classic baselines.

Importing this package is cheap: torch is imported only when a model is loaded.

    import adain
    model = adain.load()                        # the shipped decoder, fast path on this machine
    image = model.stylize("photo.jpg", "painting.jpg", alpha=0.8)
    image.save("out.jpg")

    gatys = adain.load_method("gatys")          # any registered method: adain, gatys, johnson

The sub-packages, in the direction of their imports (docs/layout.md):

    cli         command line, web demo, benchmarks            → methods, inference, train, evaluation
    evaluation  every method scored on the same pairs         → methods, train, nn
    methods     Stylizer interface; AdaIN, Gatys, Johnson     → inference, nn
    train       configs, data, objectives, the loop, export   → methods.johnson, nn
    inference   tiling, video, super-resolution, filters      → nn
    nn          encoders, decoder, AdaIN core, losses, weights → core
    core        errors, image files, devices, progress
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"
__all__ = ["load", "load_method", "__version__", "METHODS", "Stylizer", "AdaINStylizer", "StyleCode", "ImageLike",
           "PRESERVE_COLOR", "SHIPPED_DECODER", "default_decoder_path"]


def load(*args, **kwargs):
    """Build a ready-to-use `adain.methods.adain.AdaINStylizer`; see `load_adain` for the arguments."""
    from adain.methods.adain import load_adain

    return load_adain(*args, **kwargs)


def load_method(name: str, **settings):
    """Build the `adain.methods.base.Stylizer` registered as `name` (adain, gatys, johnson)."""
    from adain.methods import load_method as _load_method

    return _load_method(name, **settings)


# Names of the public API that need torch: resolved on first use so that `import adain` stays cheap.
_LAZY = {
    "METHODS": "adain.methods", "Stylizer": "adain.methods.base", "StyleCode": "adain.methods.base",
    "ImageLike": "adain.methods.base", "PRESERVE_COLOR": "adain.methods.base",
    "AdaINStylizer": "adain.methods.adain", "SHIPPED_DECODER": "adain.methods.adain",
    "default_decoder_path": "adain.methods.adain",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adain' has no attribute {name!r}")


# Module paths of the flat layout before the sub-packages: importing one still works, with a
# DeprecationWarning naming the new path.  A package's old path covers its sub-modules too.
MOVED_MODULES = {
    "adain.api": "adain",
    "adain.errors": "adain.core.errors", "adain.io": "adain.core.io", "adain.runtime": "adain.core.runtime",
    "adain.progress": "adain.core.progress",
    "adain.functional": "adain.nn.functional", "adain.layers": "adain.nn.layers", "adain.encoders": "adain.nn.encoders",
    "adain.decoder": "adain.nn.decoder", "adain.skip_inputs": "adain.nn.skip_inputs", "adain.model": "adain.nn.model",
    "adain.weights": "adain.nn.weights", "adain.losses": "adain.nn.losses.training",
    "adain.methods.gatys_losses": "adain.nn.losses.gatys", "adain.methods.gatys_bench": "adain.cli.bench_baselines",
    "adain.transformer_net": "adain.methods.johnson.network",
    "adain.tiling": "adain.inference.tiling", "adain.guided_filter": "adain.inference.guided_filter",
    "adain.flow": "adain.inference.flow", "adain.video": "adain.inference.video",
    "adain.video_read": "adain.inference.video_read", "adain.video_write": "adain.inference.video_write",
    "adain.superres": "adain.inference.superres",
    "adain.config": "adain.train.config", "adain.data": "adain.train.data", "adain.objectives": "adain.train.objectives",
    "adain.training": "adain.train.loop", "adain.checkpoint": "adain.train.checkpoint",
    "adain.tracking": "adain.train.tracking", "adain.export": "adain.train.export", "adain.stages": "adain.train.stages",
    "adain.stylize_command": "adain.cli.stylize", "adain.video_command": "adain.cli.video",
    "adain.serve": "adain.cli.serve", "adain.serve_jobs": "adain.cli.serve_jobs", "adain.bench": "adain.cli.bench",
    "adain.examples": "adain.cli.examples",
}


def moved_to(old: str) -> str | None:
    """The current path of a module imported by its old path, or None if it did not move."""
    for prefix, new in MOVED_MODULES.items():
        if old == prefix or old.startswith(prefix + "."):
            return new + old[len(prefix):]
    return None


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers `import adain.<old path>` with the module at its new path (the same object)."""

    def find_spec(self, fullname, path, target=None):
        return importlib.util.spec_from_loader(fullname, self) if moved_to(fullname) else None

    def create_module(self, spec):
        new = moved_to(spec.name)
        warnings.warn(f"{spec.name} moved to {new}; import that instead (the old path will be removed)",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:
        pass  # the module at the new path is already executed


# First in line: the old `adain.weights` module would otherwise resolve to the folder of weight files.
if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())
