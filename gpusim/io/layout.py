"""The fixed parts of a run file's layout (H5MD 1.1 conventions): the
``/h5md`` and ``/parameters`` header, the ``step``/``time`` pair every
time series has, appending to a growing dataset, and the ``/clones`` table.

>>> import h5py, tempfile, os
>>> from gpusim.config import Config
>>> with h5py.File(os.path.join(tempfile.mkdtemp(), "x.h5"), "w") as f:
...     write_header(f, Config(), backend="numpy")
...     g = f.create_group("series"); time_datasets(g, chunk=16); append(g["step"], np.arange(3))
...     sorted(f), g["step"][()].tolist(), g["time"].attrs["unit"]
(['h5md', 'parameters', 'series'], [0, 1, 2], 'day')
"""

from __future__ import annotations

import getpass

import h5py
import numpy as np

from ..config import Config
from ..version import __version__
from .checkpoint import to_host

# HDF5 file format bounds.  Not "latest": from HDF5 1.10 on, the v3 superblock
# records "open for writing", and a writer killed by SIGKILL leaves the flag
# set, so nothing can open the file until someone runs h5clear.  The 1.8
# format has no such flag and keeps new-style groups and large attributes.
LIBVER = ("v108", "v108")


def write_header(f: h5py.File, cfg: Config, backend: str) -> None:
    """``/h5md`` (version, author, creator) and ``/parameters`` (the resolved config and its key facts)."""
    h5md = f.create_group("h5md")
    h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
    h5md.create_group("author").attrs["name"] = _user()
    creator = h5md.create_group("creator")
    creator.attrs["name"] = "gpusim"
    creator.attrs["version"] = __version__
    p = f.create_group("parameters")
    p.attrs["config"] = cfg.to_toml()
    p.attrs["seed"] = np.uint64(cfg.simulation.seed)
    p.attrs["backend"] = backend
    p.attrs["lattice_shape"] = np.array(cfg.lattice.shape, dtype=np.int64)
    p.attrs["dt_minutes"] = cfg.simulation.dt_minutes
    p.attrs["dx_um"] = cfg.lattice.dx_um


def time_datasets(g: h5py.Group, chunk: int) -> None:
    """The H5MD ``step`` and ``time`` datasets of a time-dependent element."""
    g.create_dataset("step", (0,), maxshape=(None,), dtype=np.int64, chunks=(chunk,))
    t = g.create_dataset("time", (0,), maxshape=(None,), dtype=np.float64, chunks=(chunk,))
    t.attrs["unit"] = "day"


def append(ds: h5py.Dataset, data: np.ndarray) -> None:
    """Grow ``ds`` along its first axis by ``data``."""
    n = ds.shape[0]
    ds.resize(n + len(data), axis=0)
    ds[n:] = data


def truncate(g: h5py.Group, n: int) -> None:
    """Keep the first ``n`` entries of every dataset of a time series group."""
    for ds in g.values():
        ds.resize(n, axis=0)


def clones_nbytes(state) -> int:
    """Bytes :func:`write_clones` stores for ``state`` (the id column and every clone column)."""
    return state.n_clones * (4 + sum(np.dtype(col.dtype).itemsize for col in state.clone_table().values()))


def write_clones(f: h5py.File, state) -> None:
    """``/clones``: the clone table of ``state`` (host or device arrays), one row per clone id."""
    if "clones" in f:
        del f["clones"]
    g = f.create_group("clones")
    g.create_dataset("id", data=np.arange(state.n_clones, dtype=np.uint32))
    for name, col in state.clone_table().items():
        g.create_dataset(name, data=to_host(col))
    g["recognition"].attrs["unit"] = "threshold: probability = value / 2**32"
    g.attrs["description"] = "row 0 = no clone; row 1 = founder; flags: 1 = PD-L1 high, 2 = HLA lost"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"
