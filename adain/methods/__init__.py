"""Style-transfer methods behind one interface (`adain.methods.base.Stylizer`), by name.

    from adain.methods import load_method
    stylizer = load_method("adain")                 # or "gatys", "johnson"
    image = stylizer.stylize(content, style, **method_options)

Modules are imported only when their method is loaded, so listing names stays cheap.
"""

from __future__ import annotations

from importlib import import_module

from adain.core.errors import UserError

# name → "module:factory"; each factory takes keyword settings and returns a Stylizer
METHODS = {
    "adain": "adain.methods.adain:load_adain",
    "gatys": "adain.methods.gatys:load_gatys",
    "johnson": "adain.methods.johnson.stylizer:load_johnson",
}


def load_method(name: str, **settings):
    """Build the Stylizer registered as `name` with its load-time `settings`."""
    if name not in METHODS:
        raise UserError(f"method {name!r}: unknown; expected one of {', '.join(METHODS)}")
    module_name, factory = METHODS[name].split(":")
    return getattr(import_module(module_name), factory)(**settings)


def from_cli(args):
    """The Stylizer named by `args.method` and its per-image options, from parsed CLI flags.

    Each method module has `from_cli(args) -> (Stylizer, options)` reading its own flags.
    """
    if args.method not in METHODS:
        raise UserError(f"--method {args.method!r}: unknown; expected one of {', '.join(METHODS)}")
    return import_module(METHODS[args.method].split(":")[0]).from_cli(args)
