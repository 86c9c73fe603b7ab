"""Opening run files for reading, with one clear line per problem.

Every reader (``gpusim resume``, ``summarize``, ``plot``, :func:`gpusim.open_run`)
goes through :func:`open_run_file`, so a missing file, a file that is not
HDF5, a truncated or damaged one, an HDF5 file that gpusim did not write and
a missing dataset each raise :class:`~gpusim.errors.InputError` naming the
file and the problem (the CLI prints it and exits 2).

Files are opened without HDF5's file lock, so a run that is still writing
can be read (as of its last flush) while it goes on.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "notes.h5")
>>> _ = open(path, "w").write("not hdf5")
>>> open_run_file(path)
Traceback (most recent call last):
...
gpusim.errors.InputError: ...notes.h5: not an HDF5 file
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import h5py

from ..config import Config, config_from_toml_text
from ..errors import InputError


def open_run_file(path: str | Path) -> h5py.File:
    """A gpusim run file opened read-only (InputError on any problem)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a run file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.__class__.__name__})") from None
    if not is_hdf5:
        raise InputError(f"{path}: not an HDF5 file")
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as err:
        raise InputError(f"{path}: damaged or truncated HDF5 file ({_reason(err)})") from None
    creator = f.get("h5md/creator")
    if creator is None or _text(creator.attrs.get("name")) != "gpusim":
        f.close()
        raise InputError(f"{path}: HDF5 but not a gpusim run file (no /h5md/creator named gpusim)")
    return f


def open_for_writing(path: str | Path, libver) -> h5py.File:
    """``path`` opened read-write (with HDF5's lock), or InputError; used
    also as a probe (open, close: no byte of the file changes)."""
    try:
        return h5py.File(path, "r+", libver=libver)
    except OSError as err:
        why = ("it is locked by another process: is a run still writing it?" if "lock" in str(err)
               else _reason(err))
        raise InputError(f"{path}: cannot open for writing: {why}") from None


def require(f: h5py.File, name: str):
    """``f[name]`` or InputError "missing dataset"."""
    obj = f.get(name)
    if obj is None:
        raise InputError(f"{f.filename}: missing dataset /{name.strip('/')}")
    return obj


def read_config(f: h5py.File) -> Config:
    """The resolved config stored in ``/parameters`` (attr ``config``)."""
    text = require(f, "parameters").attrs.get("config")
    if text is None:
        raise InputError(f"{f.filename}: missing attribute /parameters config")
    return config_from_toml_text(_text(text), f"{f.filename}:/parameters config")


@contextlib.contextmanager
def reading(path: str | Path):
    """Turn HDF5 read errors (a damaged chunk, a truncated dataset) into one-line InputErrors."""
    try:
        yield
    except OSError as err:
        raise InputError(f"{path}: cannot read ({_reason(err)}); damaged or truncated file?") from None
    except RuntimeError as err:  # h5py's word for damaged metadata (a checksum that does not match)
        if not _raised_by_h5py(err):
            raise
        raise InputError(f"{path}: cannot read ({_reason(err)}); damaged or truncated file?") from None


def _raised_by_h5py(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and ("h5py" in tb.tb_frame.f_code.co_filename
                               or tb.tb_frame.f_code.co_filename.endswith(".pyx"))


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else None if value is None else str(value)


def _reason(err: OSError) -> str:
    """h5py's message without its "Unable to ... (...)" wrapper."""
    msg = str(err)
    m = re.match(r"^[^(]*\((.*)\)\s*$", msg)
    return m.group(1) if m else msg
