"""The one exception type for mistakes a user can fix.

The command line prints a ``UserError`` as a single line (no traceback) and
exits with status 2; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: a parameter, a path, a dataset layout."""
