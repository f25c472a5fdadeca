"""The stylizers an evaluation runs: the method registry plus evaluation-only references
(Magenta's model), and what the harness asks of any of them (device, accepted options)."""

from __future__ import annotations

from importlib import import_module

import torch

from adain.core.errors import UserError


# methods that exist only for evaluation (not in adain.methods.METHODS): name → "module:factory"
EVALUATION_METHODS = {"magenta": "adain.evaluation.magenta:load_magenta"}


def build_stylizer(name: str, settings: dict):
    """The Stylizer `name` with load-time `settings`, from the method registry or EVALUATION_METHODS."""
    if name in EVALUATION_METHODS:
        module_name, factory = EVALUATION_METHODS[name].split(":")
        return getattr(import_module(module_name), factory)(**settings)
    from adain.methods import load_method

    return load_method(name, **settings)


def stylizer_device(stylizer, default: torch.device) -> torch.device:
    """Where a Stylizer runs (Gatys: .device, AdaIN: .model.device), for timing and memory."""
    for owner in (stylizer, getattr(stylizer, "model", None)):
        device = getattr(owner, "device", None)
        if isinstance(device, (torch.device, str)):
            return torch.device(device)
    return default


# options of every method's `stylize` (adain.methods.base.Stylizer.stylize) a variant may set; the
# harness sets the sizes and colour preservation itself
STYLIZE_OPTIONS = ["style_scale", "photo", "photo_radius", "photo_eps", "upscale", "supersample"]


def check_options(stylizer, options: dict) -> None:
    """UserError for a stylize option the method does not take (methods taking **options
    validate their own)."""
    import inspect

    parameters = inspect.signature(stylizer._stylize).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name in parameters if name not in ("content", "styles", "weights", "masks")]
    accepted += STYLIZE_OPTIONS
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise UserError(f"option {unknown[0]!r}: not an option of {stylizer.name}; expected {', '.join(accepted) or 'none'}")
