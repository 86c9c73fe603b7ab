"""Writing a run file: H5MD 1.1 layout (DESIGN §5), readable by plain h5py.

::

    /h5md                  attr version [1, 1]; author (name); creator (name gpusim, version)
    /parameters            attrs: config (resolved TOML), seed, backend, lattice_shape, dt_minutes, dx_um
    /observables/<name>/   step (int64), time (float64, attr unit = day), value (attr unit)
    /fields/<name>/        step, time, value[frame, (z,) y, x]; one frame per chunk, gzip + shuffle
    /clones/               the clone table, one row per clone id (written when the run ends)
    /checkpoint/           full state for exact restart (gpusim.io.checkpoint)
    root attrs             status = running | complete | interrupted | failed; error; runtime_s; steps

What is written follows two dicts: :data:`FIELDS` here and
``gpusim.observables.OBSERVABLES``.  A field's dtype is its state array's;
its shape comes from its :class:`Grid` (the lattice by default).

Observables are buffered and written with every frame and checkpoint, then
the file is flushed, so a run killed at any moment leaves a readable file
holding every row and frame up to the last flush.  The ``RUN.xmf`` sidecar
(:mod:`gpusim.io.xdmf`) is rewritten after each frame.

Rows and frames depend only on the config and the step, never on when
checkpoints happened or on wall time (``runtime_s`` is an attribute), so a
resumed run's datasets are byte-identical to an uninterrupted one's.
"""

from __future__ import annotations

import getpass
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import h5py
import numpy as np

from ..version import __version__
from ..config import Config
from ..errors import InputError
from ..observables import OBSERVABLES
from .checkpoint import checkpoint_step, current_slot, to_host, write_checkpoint
from .reader import open_for_writing
from .xdmf import XdmfWriter

# HDF5 file format bounds.  Not "latest": from HDF5 1.10 on, the v3 superblock
# records "open for writing", and a writer killed by SIGKILL leaves the flag
# set, so nothing can open the file until someone runs h5clear.  The 1.8
# format has no such flag and keeps new-style groups and large attributes.
LIBVER = ("v108", "v108")

# Observable rows buffered before a write even without a frame or checkpoint.
MAX_PENDING_ROWS = 4096


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
    """The state array a field is read from, or None."""
    if source in state.sites:
        return to_host(state.sites[source])
    return to_host(state.extra.get(source))


def xdmf_path(path: str | Path) -> Path:
    """The XDMF sidecar of a run file: ``RUN.xmf`` beside ``RUN.h5``."""
    return Path(path).with_suffix(".xmf")


class RunWriter:
    """Streams one run into an HDF5 file: ``start``, ``on_step`` per step,
    then ``close`` (or ``fail``); :meth:`reopen` continues a file from its
    checkpoint.

    >>> import tempfile, os
    >>> from gpusim import Config, Simulation
    >>> cfg = Config.model_validate({"lattice": {"shape": [8, 8]}})
    >>> sim = Simulation(cfg, backend="numpy")
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> w = RunWriter(path, cfg, backend="numpy")
    >>> w.start(sim.last_observables, sim.state)        # row, frame and checkpoint of step 0
    >>> w.on_step(1, sim.step(), sim.state)             # row 1 (frames and checkpoints when due)
    >>> w.close(sim.state(), "complete")
    >>> os.path.exists(path[:-3] + ".xmf")
    True
    """

    def __init__(self, path: str | Path, cfg: Config, backend: str):
        self._setup(path, cfg, runtime_s=0.0)
        self.f = h5py.File(self.path, "w", libver=LIBVER)
        xdmf_path(self.path).unlink(missing_ok=True)  # an earlier run's, if overwriting
        self._write_header(backend)

    @classmethod
    def reopen(cls, path: str | Path, cfg: Config, backend: str) -> "RunWriter":
        """Continue an existing run file from its checkpoint: every row and
        frame after the checkpoint step is dropped (it will be recomputed),
        as is an end-of-run frame off the ``frame_every_steps`` grid, the
        clone table and the end-of-run attributes.  ``cfg`` is the config
        the continued run follows (its ``simulation.steps`` may be larger)."""
        self = cls.__new__(cls)
        self._setup(path, cfg, runtime_s=0.0)
        self.f = f = open_for_writing(self.path, LIBVER)
        step = checkpoint_step(f)
        if step is None:
            f.close()
            raise InputError(f"{self.path}: has no checkpoint to continue from")
        self.runtime0 = float(current_slot(f).attrs.get("runtime_s", 0.0))
        missing = [n for n in OBSERVABLES if f"observables/{n}/value" not in f]
        if missing:
            f.close()
            raise InputError(f"{self.path}: missing dataset /observables/{missing[0]}/value")
        for name, g in f["observables"].items():
            n = int(np.searchsorted(g["step"][()], step, side="right"))
            for ds in g.values():
                ds.resize(n, axis=0)
        every = cfg.output.frame_every_steps
        for name, g in f.get("fields", {}).items():
            steps = g["step"][()]
            keep = (steps <= step) & (steps % every == 0) if every else np.zeros(len(steps), bool)
            n = len(keep) if keep.all() else int(np.argmin(keep))
            for ds in g.values():
                ds.resize(n, axis=0)
            grid = Grid(tuple(reversed(g["value"].shape[1:])), float(g.attrs["spacing_um"]),
                        float(g.attrs["origin_um"]))
            self._field_meta[name] = (grid, g["value"].dtype)
            self._frame_times = [float(t) for t in g["time"][()]]
        for derived in ("clones", "analysis"):  # rewritten at the end; /analysis by gpusim analyse
            if derived in f:
                del f[derived]
        for attr in [a for a in f.attrs if a != "status"]:
            del f.attrs[attr]  # end-of-run attributes (outcome, runtime, ...) are rewritten at the end
        p = f["parameters"]
        p.attrs["config"] = cfg.to_toml()
        p.attrs["backend"] = backend
        self.last_step = step
        self._checkpoint_step = step
        f.attrs["status"] = "running"
        f.flush()
        self._write_xdmf()
        return self

    def _setup(self, path, cfg: Config, runtime_s: float) -> None:
        import time

        self._clock = time.perf_counter
        self._t0 = self._clock()
        self.runtime0 = runtime_s
        self.path = Path(path)
        self.cfg = cfg
        self.dt_days = cfg.simulation.dt_days
        # Rows not yet written, as chunks of arrays (a run of a batch gets
        # its rows many steps at a time: see gpusim.batch).
        self._pending: dict[str, list[np.ndarray]] = {name: [] for name in OBSERVABLES}
        self._pending_steps: list[np.ndarray] = []
        self._n_pending = 0
        self._field_meta: dict[str, tuple[Grid, np.dtype]] = {}
        self._frame_times: list[float] = []
        self._xdmf = XdmfWriter(xdmf_path(self.path), self.path.name)
        self.last_step: int | None = None  # last observable row recorded
        self._checkpoint_step: int | None = None

    @property
    def runtime_s(self) -> float:
        """Wall time of the run so far, over every segment up to the checkpoint it resumed from."""
        return self.runtime0 + self._clock() - self._t0

    # ------------------------------------------------------------- layout
    def _write_header(self, backend: str) -> None:
        f, cfg = self.f, self.cfg
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
        obs = f.create_group("observables", track_order=True)  # readers list them in OBSERVABLES order
        for name, (dtype, unit, desc) in OBSERVABLES.items():
            g = obs.create_group(name)
            g.attrs["description"] = desc
            _time_datasets(g, 4096)
            v = g.create_dataset("value", (0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
            v.attrs["unit"] = unit
        f.create_group("fields", track_order=True)
        f.attrs["status"] = "running"
        f.flush()

    def _field_dataset(self, name: str, spec: FieldSpec, state) -> h5py.Dataset:
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
        _time_datasets(g, 1024)
        v = g.create_dataset("value", (0, *shape), maxshape=(None, *shape), dtype=array.dtype,
                             chunks=(1, *shape), compression="gzip", compression_opts=4, shuffle=True)
        v.attrs["unit"] = spec.unit
        self._field_meta[name] = (grid, v.dtype)
        return v

    # ------------------------------------------------------------ streams
    def start(self, observables: dict[str, int], state_fn) -> None:
        """Row, frame and checkpoint of the initial state (nothing when the
        file already has them, i.e. when resuming)."""
        if self.last_step is not None:
            return
        state = state_fn()
        self.record(state.step, observables)
        if self.cfg.output.frame_every_steps:
            self.frame(state)
        self.checkpoint(state)

    def on_step(self, step: int, observables: dict[str, int], state_fn) -> None:
        """After each step: buffer the row; write a frame and/or checkpoint when due.

        ``state_fn`` returns a host copy of the state; it is called only then."""
        self.record(step, observables)
        self.write_due(step, state_fn)

    def write_due(self, step: int, state_fn) -> None:
        """Write what is due at ``step`` (the last row recorded): a frame
        and/or checkpoint, else the rows once enough are buffered."""
        out = self.cfg.output
        frame = out.frame_every_steps and step % out.frame_every_steps == 0
        checkpoint = out.checkpoint_every_steps and step % out.checkpoint_every_steps == 0
        if frame or checkpoint:
            state = state_fn()
            if frame:
                self.frame(state)
            if checkpoint:
                self.checkpoint(state)
        elif self._n_pending >= MAX_PENDING_ROWS:
            self.flush()

    def record(self, step: int, values: dict[str, int]) -> None:
        """Buffer one row of observables (written at the next flush)."""
        self.record_rows(np.array([step], dtype=np.int64), {name: [values[name]] for name in OBSERVABLES})

    def record_rows(self, steps: np.ndarray, values: dict) -> None:
        """Buffer rows of observables: ``steps`` and, per observable, one
        value per step (written at the next flush)."""
        if not len(steps):
            return
        self._pending_steps.append(np.asarray(steps, dtype=np.int64))
        for name, (dtype, _, _) in OBSERVABLES.items():
            self._pending[name].append(np.asarray(values[name], dtype=dtype))
        self._n_pending += len(steps)
        self.last_step = int(steps[-1])

    def _pending_rows(self, name: str) -> np.ndarray:
        dtype = OBSERVABLES[name][0]
        return np.concatenate(self._pending[name]) if self._pending[name] else np.zeros(0, dtype=dtype)

    def _write_pending(self) -> None:
        if not self._pending_steps:
            return
        steps = np.concatenate(self._pending_steps)
        for name in OBSERVABLES:
            g = self.f["observables"][name]
            _append(g["step"], steps)
            _append(g["time"], steps * self.dt_days)
            _append(g["value"], self._pending_rows(name))
            self._pending[name].clear()
        self._pending_steps.clear()
        self._n_pending = 0

    def flush(self) -> None:
        self._write_pending()
        self.f.flush()

    def observable_history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of observable ``name`` for every row so far, on disk
        and buffered.  After a resume the process has seen only the steps
        since the checkpoint; end-of-run metrics (outcome, response) that need
        the whole trajectory read it from here."""
        g = self.f["observables"][name]
        steps = np.concatenate([g["step"][()], *self._pending_steps])
        values = np.concatenate([g["value"][()], self._pending_rows(name)])
        return steps, values

    def classify(self) -> dict:
        """Outcome (and response) from the whole trajectory, resumed or not."""
        from ..outcome import classify

        steps, cells = self.observable_history("tumour_cells")
        _, edge = self.observable_history("edge_cells")
        return classify(self.cfg, steps * self.dt_days, cells, edge)

    def frame(self, state) -> None:
        """Append one frame of every field (host state), flush, update the XDMF file."""
        for name, spec in field_specs().items():
            array = field_array(state, spec.source)
            if array is None:
                continue
            v = self._field_dataset(name, spec, state)
            g = v.parent
            _append(g["step"], np.array([state.step], dtype=np.int64))
            _append(g["time"], np.array([state.step], dtype=np.int64) * self.dt_days)
            _append(v, np.asarray(array).reshape(1, *v.shape[1:]))
        self._frame_times.append(state.step * self.dt_days)
        self.flush()
        self._write_xdmf()

    def checkpoint(self, state) -> None:
        """Write the rows so far and the full state for exact restart."""
        self._write_pending()
        write_checkpoint(self.f, state, runtime_s=self.runtime_s)
        self._checkpoint_step = state.step

    def write_clones(self, state) -> None:
        if "clones" in self.f:
            del self.f["clones"]
        g = self.f.create_group("clones")
        table = state.clone_table()
        g.create_dataset("id", data=np.arange(state.n_clones, dtype=np.uint32))
        for name, col in table.items():
            g.create_dataset(name, data=np.asarray(col))
        g["recognition"].attrs["unit"] = "threshold: probability = value / 2**32"
        g.attrs["description"] = "row 0 = no clone; row 1 = founder; flags: 1 = PD-L1 high, 2 = HLA lost"

    def close(self, state, status: str = "complete", **attrs) -> None:
        """End the run at ``state``: a last frame if the run is complete and
        its last step is off the frame grid, a final checkpoint (so a complete
        run can be extended), the clone table, root attributes, close."""
        every = self.cfg.output.frame_every_steps
        if status == "complete" and every and state.step % every:
            self.frame(state)
        for name, spec in field_specs().items():  # empty datasets when no frame was written
            if field_array(state, spec.source) is not None:
                self._field_dataset(name, spec, state)
        if self._checkpoint_step != state.step:
            self.checkpoint(state)
        self.flush()
        self.write_clones(state)
        if status == "complete":
            attrs.update(self.classify())
        attrs.setdefault("steps", state.step)
        attrs.setdefault("runtime_s", self.runtime_s)
        for k, v in attrs.items():
            self.f.attrs[k] = v
        self.f.attrs["status"] = status
        self.f.close()
        self._write_xdmf()

    def fail(self, message: str) -> None:
        if self.f.id.valid:
            self.f.attrs["status"] = "failed"
            self.f.attrs["error"] = message
            self.f.close()

    def _write_xdmf(self) -> None:
        if self._field_meta and self._frame_times:
            self._xdmf.write(self._field_meta, self._frame_times)
        else:  # no frame to show (frames switched off, or all dropped by a resume)
            xdmf_path(self.path).unlink(missing_ok=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _time_datasets(g: h5py.Group, chunk: int) -> None:
    """The H5MD ``step`` and ``time`` datasets of a time-dependent element."""
    g.create_dataset("step", (0,), maxshape=(None,), dtype=np.int64, chunks=(chunk,))
    t = g.create_dataset("time", (0,), maxshape=(None,), dtype=np.float64, chunks=(chunk,))
    t.attrs["unit"] = "day"


def _append(ds: h5py.Dataset, data: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + len(data), axis=0)
    ds[n:] = data
