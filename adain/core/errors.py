"""User-facing errors.

A `UserError` is raised for bad input (a missing file, an unreadable image, weights of the wrong
shape, an unknown option).  The CLI prints its message on one line and exits with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input from the user: the message names the thing and what was expected."""

    exit_code = 2
