"""Errors that are the user's to fix.

Anything raised as :class:`InputError` reaches the CLI as one line on stderr
and exit code 2 (DESIGN §5); everything else is a bug and keeps its traceback.
"""


class InputError(Exception):
    """A bad config, override, file or argument: the message names what is wrong."""


class RunInterrupted(Exception):
    """A run stopped on a signal after writing its checkpoint; the CLI exits
    with ``exit_code`` (128 + signal number) and says how to resume."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class WriteError(Exception):
    """The run file could not be written (disk full, quota, I/O error): the
    CLI prints one line naming the file and the cause and exits with
    ``exit_code`` (74, EX_IOERR of sysexits.h).  ``fatal``: HDF5 failed
    inside a write and must not be touched again, so the CLI exits at once."""

    exit_code = 74

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal
