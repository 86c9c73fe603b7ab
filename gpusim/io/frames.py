"""Lattice frames of a run file: ``/fields/<name>/{step,time,value}``, one
frame per chunk (gzip + shuffle; slabs of rows for frames over SLAB_BYTES),
and the ``RUN.xmf`` sidecar that describes them (:mod:`gpusim.io.xdmf`,
rewritten after every frame).

What is written follows :data:`FIELDS`.  A field's dtype is its state
array's; its shape comes from its :class:`Grid` (the lattice by default).

Two series of frames (:func:`series`): ``full`` frames of every field and,
for a 3D lattice with ``output.slices``, ``slices``: the mid-planes
``/fields/<name>_xy`` (z = nz // 2), ``_xz`` (y = ny // 2) and ``_yz``
(x = nx // 2) of every field at ``frame_every_steps``, while full frames come
only at the start, at the end and every ``full_frame_every_steps``.  A 10^9-site
run then writes a few megabytes a day instead of gigabytes.  The XDMF
sidecar describes the slices when there are any, else the full frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import h5py
import numpy as np

from ..components import FRAMES
from ..config import Config
from .checkpoint import SLAB_BYTES, slabs, to_host
from .deflate import ChunkDeflater, can_deflate
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
#: Each component declares its own (gpusim.components.FRAMES).
FIELDS: dict[str, FieldSpec] = {name: FieldSpec(*entry) for name, entry in FRAMES.items()}


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


#: The mid-plane slices of a 3D field: name suffix -> (the two axes it keeps,
#: x = 0, y = 1, z = 2, fastest first; the axis it cuts at its middle).
PLANES = {"xy": ((0, 1), 2), "xz": ((0, 2), 1), "yz": ((1, 2), 0)}


def slicing(cfg: Config) -> bool:
    """True when the run's frames are mid-plane slices (``output.slices``, 3D)."""
    return cfg.output.slices and cfg.lattice.dim == 3


def series(cfg: Config) -> dict[str, int]:
    """Steps between frames of each series written (0: only the start and
    end frames); a series absent is not written.

    >>> from gpusim.config import Config
    >>> series(Config.model_validate({"lattice": {"shape": [8, 8, 8]},
    ...                               "output": {"frame_every_steps": 96, "slices": True}}))
    {'full': 0, 'slices': 96}
    """
    out = cfg.output
    if slicing(cfg):
        sliced = {"slices": out.frame_every_steps} if out.frame_every_steps else {}
        return {"full": out.full_frame_every_steps, **sliced}
    return {"full": out.frame_every_steps} if out.frame_every_steps else {}


def plane_grid(grid: Grid, plane: str) -> Grid:
    """The 2D grid of one mid-plane slice of a 3D grid."""
    axes, _ = PLANES[plane]
    return Grid(tuple(grid.extents[a] for a in axes), grid.spacing_um, grid.origin_um)


def plane_values(array, grid: Grid, plane: str):
    """The mid-plane ``plane`` of a flat field ``array`` on the 3D ``grid``
    (a view: host or device), C order of :func:`plane_grid`'s array shape."""
    _, cut = PLANES[plane]
    cube = array.reshape(grid.array_shape)  # (z, y, x)
    index = [slice(None)] * 3
    index[2 - cut] = grid.extents[cut] // 2
    return cube[tuple(index)]


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

    @property
    def xdmf_series(self) -> str:
        return "slices" if slicing(self.cfg) else "full"

    @classmethod
    def resume(cls, f: h5py.File, cfg: Config, path: Path, step: int | None) -> "FrameWriter":
        """The frames of an existing file, cut after ``step`` and at the
        first frame off its series' grid (an end-of-run frame); ``None``:
        every frame (the run starts again at step 0)."""
        step = -1 if step is None else step
        frames = cls(f, cfg, path)
        every_of = series(cfg)
        for name, g in f.get("fields", {}).items():
            kind = str(g.attrs.get("series", "full"))
            steps = g["step"][()]
            if kind not in every_of:
                keep = np.zeros(len(steps), bool)
            else:
                every = every_of[kind]
                keep = (steps <= step) & ((steps % every == 0) if every else (steps == 0))
            truncate(g, len(keep) if keep.all() else int(np.argmin(keep)))
            if kind != frames.xdmf_series:
                continue
            grid = Grid(tuple(reversed(g["value"].shape[1:])), float(g.attrs["spacing_um"]),
                        float(g.attrs["origin_um"]))
            frames._meta[name] = (grid, g["value"].dtype)
            frames._times = [float(t) for t in g["time"][()]]
        return frames

    def due(self, step: int, end: bool = False) -> list[str]:
        """The series with a frame at ``step``: on their grid, the start
        frame, or (``end``) the last frame of a run that ends off the grid."""
        out = []
        for kind, every in series(self.cfg).items():
            on_grid = (step % every == 0) if every else step == 0
            if on_grid or (end and (every or kind == "full")):
                out.append(kind)
        return out

    def append(self, state, kinds=("full",)) -> None:
        """Append one frame of each series in ``kinds`` of every field of
        ``state`` (host or device arrays, read through a bounded host
        buffer); not flushed."""
        for name, spec in field_specs().items():
            array = field_array(state, spec.source)
            if array is None:
                continue
            grid = spec.grid_of(self.cfg, state)
            if "full" in kinds:
                self._append(self.dataset(name, spec, state), state.step, array)
            if "slices" in kinds:
                for plane in PLANES:
                    v = self.dataset(f"{name}_{plane}", spec, state, plane_grid(grid, plane), "slices")
                    self._append(v, state.step, plane_values(array, grid, plane).reshape(-1))
        if self.xdmf_series in kinds:
            self._times.append(state.step * self.dt_days)

    def _append(self, v: h5py.Dataset, step: int, array) -> None:
        g = v.parent
        append(g["step"], np.array([step], dtype=np.int64))
        append(g["time"], np.array([step], dtype=np.int64) * self.dt_days)
        k = v.shape[0]
        v.resize(k + 1, axis=0)
        row = math.prod(v.shape[2:])  # one row of the slowest axis, in values
        rows = v.chunks[1]
        if rows < v.shape[1] and can_deflate(v):
            # A frame of many chunks (10^9 sites): each slab is one chunk,
            # deflated in parallel (gpusim.io.deflate), not on one core.
            with ChunkDeflater(v) as out:
                for lo, hi in slabs(array.size, array.dtype.itemsize, row):
                    assert (lo // row) % rows == 0 and hi // row - lo // row <= rows
                    out.put((k, lo // row) + (0,) * (v.ndim - 2),
                            to_host(array[lo:hi]).reshape(hi // row - lo // row, *v.shape[2:]))
            return
        for lo, hi in slabs(array.size, array.dtype.itemsize, row):
            v[k, lo // row : hi // row] = to_host(array[lo:hi]).reshape(hi // row - lo // row, *v.shape[2:])

    def frame_nbytes(self, state, kinds=("full",)) -> int:
        """Uncompressed bytes :meth:`append` writes for ``kinds`` (full frames, slices)."""
        total = 0
        for spec in field_specs().values():
            array = field_array(state, spec.source)
            if array is None:
                continue
            if "full" in kinds:
                total += array.nbytes
            if "slices" in kinds:
                grid = spec.grid_of(self.cfg, state)
                total += sum(math.prod(plane_grid(grid, p).extents) for p in PLANES) * array.dtype.itemsize
        return total

    def ensure_datasets(self, state) -> None:
        """Every field's (possibly empty) datasets, also when no frame was written."""
        for name, spec in field_specs().items():
            array = field_array(state, spec.source)
            if array is None:
                continue
            self.dataset(name, spec, state)
            if slicing(self.cfg):
                grid = spec.grid_of(self.cfg, state)
                for plane in PLANES:
                    self.dataset(f"{name}_{plane}", spec, state, plane_grid(grid, plane), "slices")

    def dataset(self, name: str, spec: FieldSpec, state, grid: Grid | None = None,
                kind: str = "full") -> h5py.Dataset:
        """The ``value`` dataset of field ``name`` (on ``grid``: default the
        field's own; ``kind`` is its series), created on first use."""
        g = self.f["fields"].get(name)
        if g is not None:
            return g["value"]
        array = field_array(state, spec.source)
        shape = spec.grid_of(self.cfg, state).array_shape
        if array.size != math.prod(shape):
            raise ValueError(f"field {name}: state array {spec.source!r} has {array.size} values, "
                             f"its grid {tuple(reversed(shape))} has {math.prod(shape)}")
        grid = grid or spec.grid_of(self.cfg, state)
        shape = grid.array_shape
        g = self.f["fields"].create_group(name)
        if slicing(self.cfg):  # which series (absent: full frames, the only series without slices)
            g.attrs["series"] = kind
        g.attrs["description"] = spec.description if kind == "full" else \
            f"mid-plane {name.rsplit('_', 1)[1]} slice of: {spec.description}"
        g.attrs["spacing_um"] = grid.spacing_um
        g.attrs["origin_um"] = grid.origin_um
        g.attrs["grid_coarsening"] = round(grid.spacing_um / self.cfg.lattice.dx_um)
        time_datasets(g, FRAME_CHUNK)
        chunks = frame_chunks(shape, array.dtype.itemsize)
        # gzip 4, or 1 (about twice as fast) for frames of a 10^9-site lattice
        level = 4 if chunks[1:] == shape else 1
        v = g.create_dataset("value", (0, *shape), maxshape=(None, *shape), dtype=array.dtype, chunks=chunks,
                             compression="gzip", compression_opts=level, shuffle=True)
        v.attrs["unit"] = spec.unit
        if kind == self.xdmf_series:
            self._meta[name] = (grid, v.dtype)
        return v

    def xdmf_nbytes(self) -> int:
        """Room the next :meth:`write_xdmf` needs: the new text (the old one
        and one more frame) is written beside the old file before it replaces it."""
        path = xdmf_path(self.path)
        old = path.stat().st_size if path.exists() else 0
        return old + max(16384, 2 * old // max(len(self._times), 1))

    def write_xdmf(self) -> None:
        """Rewrite the sidecar for the frames so far (remove it when there are none)."""
        if self._meta and self._times:
            self._xdmf.write(self._meta, self._times)
        else:  # no frame to show (frames switched off, or all dropped by a resume)
            xdmf_path(self.path).unlink(missing_ok=True)
