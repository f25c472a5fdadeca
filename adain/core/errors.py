"""User-facing errors.

A `UserError` is raised for bad input (a missing file, an unreadable image, weights of the wrong
shape, an unknown option).  The CLI prints its message on one line and exits with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""

import importlib


class UserError(ValueError):
    """Bad input from the user: the message names the thing and what was expected."""

    exit_code = 2


def require(module: str, purpose: str, package: str | None = None):
    """Import an optional dependency (`module`, e.g. "cv2"), or stop with one line that names what
    needed it and the pip package (`package`, default the module's name) that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{purpose} needs the package {package or module}, which is not installed: run "
                        f"`bash scripts/setup_env.sh` or `pip install -r requirements.txt`") from None
