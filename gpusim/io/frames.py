"""Lattice frames of a run file: ``/fields/<name>/{step,time,value}``, one
frame per chunk (gzip + shuffle), and the ``RUN.xmf`` sidecar that
describes them (:mod:`gpusim.io.xdmf`, rewritten after every frame).

What is written follows :data:`FIELDS`.  A field's dtype is its state
array's; its shape comes from its :class:`Grid` (the lattice by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import h5py
import numpy as np

from ..config import Config
from .checkpoint import SLAB_BYTES, slabs, to_host
from .layout import append, time_datasets, truncate
from .xdmf import XdmfWriter

#: Frames per HDF5 chunk of a field's step and time series.
FRAME_CHUNK = 1024


@dataclass(frozen=True)
class Grid:
    """The points a field's values sit on: ``extents`` (nx, ny[, nz]); point
    k along any axis is at ``origin_um + k * spacing_um``."""

    extents: tuple[int, ...]
    spacing_um: float
    origin_um: float = 0.0

    @property
    def array_shape(self) -> tuple[int, ...]:
        """C-order shape of one frame: (ny, nx) or (nz, ny, nx)."""
        return tuple(reversed(self.extents))


def lattice_grid(cfg: Config) -> Grid:
    """One point per lattice site."""
    return Grid(tuple(cfg.lattice.shape), cfg.lattice.dx_um)


def coarse_grid(cfg: Config, factor: int) -> Grid:
    """A grid ``factor`` times coarser than the lattice (ceil(n / factor)
    points per axis), each point at the centre of the sites it covers.

    >>> from gpusim.config import Config
    >>> coarse_grid(Config.model_validate({"lattice": {"shape": [10, 8]}}), 4)
    Grid(extents=(3, 2), spacing_um=40.0, origin_um=15.0)
    """
    dx = cfg.lattice.dx_um
    return Grid(tuple(math.ceil(n / factor) for n in cfg.lattice.shape), dx * factor, dx * (factor - 1) / 2)


def chemokine_grid(cfg: Config) -> Grid:
    """The coarse grid of the chemokine field (``chemokine.grid_coarsening``)."""
    return coarse_grid(cfg, cfg.chemokine.grid_coarsening)


class FieldSpec(NamedTuple):
    """A field written as frames: ``source`` names an array of ``state.sites``
    or ``state.extra`` (flat, C order of the grid's ``array_shape``); its
    dtype is the array's.  ``grid`` defaults to the lattice for an array of
    ``state.sites`` and to :func:`chemokine_grid` for one of ``state.extra``.
    A field whose source the state lacks is not written."""

    source: str
    unit: str
    description: str
    grid: Callable[[Config], Grid] | None = None

    def grid_of(self, cfg: Config, state) -> Grid:
        if self.grid is not None:
            return self.grid(cfg)
        return lattice_grid(cfg) if self.source in state.sites else chemokine_grid(cfg)


#: Fields written as frames: name -> FieldSpec (a plain (source, unit,
#: description) tuple is accepted too).
FIELDS: dict[str, FieldSpec] = {
    "tumour_clone": FieldSpec("clone", "clone id", "tumour clone id per site, 0 = no tumour cell"),
    "tcells": FieldSpec("tcell", "bits", "T cell per site: 128 = present | exhaustion << 4 | kills left; 0 = none"),
    "chemokine": FieldSpec("chemokine", "concentration", "chemokine per field cell (amount per site volume)"),
}


def field_specs() -> dict[str, FieldSpec]:
    return {name: FieldSpec(*entry) for name, entry in FIELDS.items()}


def field_array(state, source: str):
    """The state array a field is read from (on the host or the device), or None."""
    if source in state.sites:
        return state.sites[source]
    return state.extra.get(source)


def frame_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """HDF5 chunk of a field's ``value``: one frame, or for frames over
    SLAB_BYTES (a 3D lattice of 10^9 sites) slabs of whole rows of the
    slowest axis, so no chunk nears HDF5's 4 GiB limit and a frame streams
    from the device slab by slab.

    >>> frame_chunks((200, 200), 4)
    (1, 200, 200)
    >>> frame_chunks((1280, 1280, 1280), 4)
    (1, 10, 1280, 1280)
    """
    row = math.prod(shape[1:]) * itemsize
    rows = shape[0] if row * shape[0] <= SLAB_BYTES else max(1, SLAB_BYTES // row)
    return (1, rows, *shape[1:])


def xdmf_path(path: str | Path) -> Path:
    """The XDMF sidecar of a run file: ``RUN.xmf`` beside ``RUN.h5``."""
    return Path(path).with_suffix(".xmf")


class FrameWriter:
    """Appends frames to the ``/fields`` group of an open run file and keeps
    its XDMF sidecar in step."""

    def __init__(self, f: h5py.File, cfg: Config, path: Path):
        self.f, self.cfg, self.path = f, cfg, path
        self.dt_days = cfg.simulation.dt_days
        self._meta: dict[str, tuple[Grid, np.dtype]] = {}  # what the XDMF file describes
        self._times: list[float] = []
        self._xdmf = XdmfWriter(xdmf_path(path), path.name)

    @classmethod
    def create(cls, f: h5py.File, cfg: Config, path: Path) -> "FrameWriter":
        """An empty ``/fields`` group (datasets appear with the first frame)."""
        f.create_group("fields", track_order=True)
        xdmf_path(path).unlink(missing_ok=True)  # an earlier run's, if overwriting
        return cls(f, cfg, path)

    @classmethod
    def resume(cls, f: h5py.File, cfg: Config, path: Path, step: int) -> "FrameWriter":
        """The frames of an existing file, cut after ``step`` and at the
        first frame off the ``frame_every_steps`` grid (an end-of-run frame)."""
        frames = cls(f, cfg, path)
        every = cfg.output.frame_every_steps
        for name, g in f.get("fields", {}).items():
            steps = g["step"][()]
            keep = (steps <= step) & (steps % every == 0) if every else np.zeros(len(steps), bool)
            truncate(g, len(keep) if keep.all() else int(np.argmin(keep)))
            grid = Grid(tuple(reversed(g["value"].shape[1:])), float(g.attrs["spacing_um"]),
                        float(g.attrs["origin_um"]))
            frames._meta[name] = (grid, g["value"].dtype)
            frames._times = [float(t) for t in g["time"][()]]
        return frames

    def append(self, state) -> None:
        """Append one frame of every field of ``state`` (host arrays); not flushed."""
        for name, spec in field_specs().items():
            array = field_array(state, spec.source)
            if array is None:
                continue
            v = self.dataset(name, spec, state)
            g = v.parent
            append(g["step"], np.array([state.step], dtype=np.int64))
            append(g["time"], np.array([state.step], dtype=np.int64) * self.dt_days)
            k = v.shape[0]
            v.resize(k + 1, axis=0)
            row = math.prod(v.shape[2:])  # one row of the slowest axis, in values
            for lo, hi in slabs(array.size, array.dtype.itemsize, row):  # through a bounded host buffer
                v[k, lo // row : hi // row] = to_host(array[lo:hi]).reshape(hi // row - lo // row, *v.shape[2:])
        self._times.append(state.step * self.dt_days)

    @staticmethod
    def frame_nbytes(state) -> int:
        """Uncompressed bytes of one frame of ``state`` (what :meth:`append` writes at most)."""
        arrays = (field_array(state, spec.source) for spec in field_specs().values())
        return sum(a.nbytes for a in arrays if a is not None)

    def ensure_datasets(self, state) -> None:
        """Every field's (possibly empty) datasets, also when no frame was written."""
        for name, spec in field_specs().items():
            if field_array(state, spec.source) is not None:
                self.dataset(name, spec, state)

    def dataset(self, name: str, spec: FieldSpec, state) -> h5py.Dataset:
        """The ``value`` dataset of field ``name``, created on first use."""
        g = self.f["fields"].get(name)
        if g is not None:
            return g["value"]
        array = field_array(state, spec.source)
        grid = spec.grid_of(self.cfg, state)
        shape = grid.array_shape
        if array.size != math.prod(shape):
            raise ValueError(f"field {name}: state array {spec.source!r} has {array.size} values, "
                             f"its grid {grid.extents} has {math.prod(shape)}")
        g = self.f["fields"].create_group(name)
        g.attrs["description"] = spec.description
        g.attrs["spacing_um"] = grid.spacing_um
        g.attrs["origin_um"] = grid.origin_um
        g.attrs["grid_coarsening"] = round(grid.spacing_um / self.cfg.lattice.dx_um)
        time_datasets(g, FRAME_CHUNK)
        v = g.create_dataset("value", (0, *shape), maxshape=(None, *shape), dtype=array.dtype,
                             chunks=frame_chunks(shape, array.dtype.itemsize), compression="gzip", compression_opts=4,
                             shuffle=True)
        v.attrs["unit"] = spec.unit
        self._meta[name] = (grid, v.dtype)
        return v

    def write_xdmf(self) -> None:
        """Rewrite the sidecar for the frames so far (remove it when there are none)."""
        if self._meta and self._times:
            self._xdmf.write(self._meta, self._times)
        else:  # no frame to show (frames switched off, or all dropped by a resume)
            xdmf_path(self.path).unlink(missing_ok=True)
