"""User-facing errors: the CLI prints their message on one line and exits with code 2."""


class GenseqError(Exception):
    """A problem with the user's input (a path, a file, an argument), not a bug. Its message
    is one line: line breaks from user data quoted in it are shown escaped."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"), *args)
