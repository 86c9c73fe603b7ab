"""Disk space for a run file: check before writing, so that a full file
system stops a run cleanly instead of inside HDF5.

HDF5 has no transactions: a write that fails half-way (ENOSPC) leaves the
library and the file in a state nobody can repair -- the next flush fails
again, closing the file crashes the interpreter, and the file on disk may
not open.  So :class:`~gpusim.io.runfile.RunWriter` asks :func:`require` for
room before every frame and checkpoint: the uncompressed size of what it is
about to write (an upper bound: gzip only shrinks frames) plus
:data:`MARGIN_BYTES` for HDF5's metadata and the few attributes that close
the file.  Without that room the run marks the file ``failed`` with the
reason, closes it cleanly -- it opens, and ``gpusim resume`` continues it
from its last checkpoint (from step 0, rebuilt from the stored config, when
it has none) once there is space -- and stops with
:class:`~gpusim.errors.WriteError` (exit code 74).  The rows count by the
HDF5 chunk they open (a chunk of every series at once), frames add the XDMF
sidecar they rewrite, and the end of the run adds the clone table.
``gpusim resume`` checks for room before it opens the file for writing, so
on a still-full disk it changes no byte of it.

Should the space go anyway (another process filling the disk between the
check and the write), :func:`write_failure` turns HDF5's error into the same
one-line :class:`~gpusim.errors.WriteError`, marked ``fatal``: the CLI then
exits at once without touching HDF5 again (no traceback, no crash), and the
file may be damaged.

>>> import tempfile
>>> require(tempfile.gettempdir() + "/x.h5", 1024, "a frame", None)  # room: nothing happens
>>> cause_of(RuntimeError("Unable to flush file (file write failed: ..., errno = 28, "
...                       "error message = 'No space left on device', ...)"))
'No space left on device'
"""

from __future__ import annotations

import errno as errno_codes
import os
import re
import shutil
from pathlib import Path

from ..errors import WriteError

#: Room kept free beyond a write's own size: HDF5 metadata (chunk indexes,
#: object headers) and the status attributes written when the run stops.
MARGIN_BYTES = 1 << 18


def free_bytes(path: str | Path) -> int:
    """Bytes an unprivileged process may still write in ``path``'s directory."""
    return shutil.disk_usage(Path(path).parent).free


def _size(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def require(path: str | Path, nbytes: int, what: str, checkpoint_step: int | None) -> None:
    """Raise :class:`WriteError` unless ``nbytes`` (+ margin) fit beside ``path``."""
    free = free_bytes(path)
    if free >= nbytes + MARGIN_BYTES:
        return
    keep = (f"it keeps its checkpoint of step {checkpoint_step}: free space, then gpusim resume {path}"
            if checkpoint_step is not None else
            f"it has no checkpoint yet: free space, then gpusim resume {path} (it starts again from step 0)")
    raise WriteError(f"{path}: no space left on device ({_size(free)} free; {what} needs up to "
                     f"{_size(nbytes + MARGIN_BYTES)}); {keep}")


_HDF5_ERRNO = re.compile(r"errno = (\d+), error message = '([^']*)'")


def cause_of(err: BaseException) -> str | None:
    """The operating system's reason when ``err`` is a failed write (h5py
    wraps it in RuntimeError/OSError text; Python file writes set errno)."""
    code = getattr(err, "errno", None)
    if isinstance(err, OSError) and code in (errno_codes.ENOSPC, errno_codes.EDQUOT, errno_codes.EIO, errno_codes.EFBIG):
        return os.strerror(code)
    match = _HDF5_ERRNO.search(str(err)) if isinstance(err, (OSError, RuntimeError)) else None
    return match.group(2) if match else None


def write_failure(path: str | Path, err: BaseException) -> WriteError | None:
    """A fatal :class:`WriteError` for ``err`` if it is a failed write, else None."""
    cause = cause_of(err)
    if cause is None:
        return None
    return WriteError(f"{path}: write failed ({cause}); the run stopped, and the file may be damaged: "
                      "free space, then try gpusim resume on it (or run again)", fatal=True)
