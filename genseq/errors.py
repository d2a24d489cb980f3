"""User-facing errors: the CLI prints their message on one line and exits with code 2."""


class GenseqError(Exception):
    """A problem with the user's input (a path, a file, an argument), not a bug."""
