"""The factors `--upscale` accepts; light (no torch), so the command line checks them first."""

from __future__ import annotations

from adain.core.errors import UserError

UPSCALE_FACTORS = (2, 3, 4)


def check_upscale(factor: int | str | None, name: str = "upscale") -> int:
    """`factor` as an int if it is 1 (off; None too) or in UPSCALE_FACTORS; else a one-line
    UserError naming `name` (the command line passes "--upscale")."""
    if factor is None:
        return 1
    try:
        value = int(factor) if not isinstance(factor, (bool, float)) else None
    except ValueError:
        value = None
    if value is None or (value != 1 and value not in UPSCALE_FACTORS):
        raise UserError(f"{name} {factor}: expected {', '.join(map(str, UPSCALE_FACTORS))} (or 1: off)")
    return value
