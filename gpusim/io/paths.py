"""Output paths: one rule for every command that writes (run, sweep, plot,
export, sensitivity), and errors that blame the output, not the input.

The rule: the *directory* an output goes into must already exist and be
writable -- nothing creates missing parents, so a typo in ``-o`` is one
clear line, not a stray directory tree.  The output itself (a run file, a
PNG, a sweep or export directory) is created; a file output may not be an
existing directory.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> check_output(f"{d}/run.h5")
PosixPath('...run.h5')
>>> check_output(f"{d}/no/such/run.h5")
Traceback (most recent call last):
gpusim.errors.InputError: .../no/such/run.h5: directory .../no/such does not exist
>>> check_output(d)
Traceback (most recent call last):
gpusim.errors.InputError: ...: is a directory (give a file name)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import InputError, WriteError


def _parent_ok(out: Path) -> None:
    parent = out.parent
    if not parent.resolve().is_dir():
        raise InputError(f"{out}: directory {parent} does not exist")
    if not os.access(parent.resolve(), os.W_OK):
        raise InputError(f"{out}: directory {parent} is not writable")


def check_output(out: str | Path, overwrite: bool = True) -> Path:
    """A file output: its directory exists and is writable; it is not a
    directory; it does not exist unless ``overwrite``."""
    if str(out) == "":
        raise InputError("'': an empty output name (give a file name)")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a directory (give a file name)")
    if out.exists() and not out.is_file():  # /dev/full, a FIFO: not a file a run can be kept in
        raise InputError(f"{out}: is not a regular file")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (use --overwrite to replace it)")
    _parent_ok(out)
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError(f"{out}: is not writable")
    return out


def probe_output(out: str | Path) -> Path:
    """:func:`check_output`, then a real test: the file is opened for
    appending (and removed again if it was new), so a place the file system
    refuses whatever the permission bits say (/proc, a read-only mount) is
    found before a command writes anything else."""
    out = check_output(out)
    existed = out.exists()
    try:
        with open(out, "ab"):
            pass
    except OSError as err:
        raise InputError(f"{out}: cannot write here ({err.strerror or err})") from None
    if not existed:
        out.unlink()
    return out


def check_output_dir(out: str | Path) -> Path:
    """A directory output: an existing directory, or a new one in an existing, writable directory."""
    if str(out) == "":
        raise InputError("'': an empty output name (give a directory)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if not out.exists():
        _parent_ok(out)
    return out


@contextlib.contextmanager
def writing(out: str | Path):
    """Turn an OSError while writing ``out`` into one line naming ``out`` and
    the cause (exit 74), whatever was being read at the time."""
    try:
        yield
    except OSError as err:
        raise WriteError(f"{out}: cannot write ({err.strerror or err})") from None
