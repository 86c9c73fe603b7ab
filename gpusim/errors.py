"""Errors that are the user's to fix.

Anything raised as :class:`InputError` reaches the CLI as one line on stderr
and exit code 2 (DESIGN §5); everything else is a bug and keeps its traceback.
"""


class InputError(Exception):
    """A bad config, override, file or argument: the message names what is wrong."""
