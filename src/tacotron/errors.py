"""User-facing errors: the CLI prints their message (file, line, reason) and exits 2, no traceback."""


class UserError(Exception):
    """A mistake in the user's input (data, config, arguments), reported without a stack trace."""


class DataError(UserError):
    """The data set cannot be used as given."""
