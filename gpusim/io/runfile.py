"""Writing a run file: H5MD 1.1 layout (DESIGN §5), readable by plain h5py.

::

    /h5md                  attr version [1, 1]; author (name); creator (name gpusim, version)
    /parameters            attrs: config (resolved TOML), seed, backend, lattice_shape, dt_minutes, dx_um
    /observables/<name>/   step (int64), time (float64, attr unit = day), value (attr unit)
    /fields/<name>/        step, time, value[frame, (z,) y, x]; one frame per chunk, gzip + shuffle
    /clones/               the clone table, one row per clone id (written when the run ends)
    /checkpoint/           full state for exact restart (gpusim.io.checkpoint)
    root attrs             status = running | complete | interrupted | failed; error; runtime_s; steps

:class:`RunWriter` decides *when* things are written (the frame and
checkpoint cadence, flushes, the end of the run) and delegates *how* to one
module each: :mod:`~gpusim.io.layout` (header, clone table),
:mod:`~gpusim.io.rows` (observables, after ``gpusim.observables.OBSERVABLES``),
:mod:`~gpusim.io.frames` (fields, after ``frames.FIELDS``, and the XDMF
sidecar), :mod:`~gpusim.io.checkpoint` (full state) and ``gpusim.outcome``.

Observables are buffered and written with every frame and checkpoint, then
the file is flushed, so a run killed at any moment leaves a readable file
holding every row and frame up to the last flush.

Rows and frames depend only on the config and the step, never on when
checkpoints happened or on wall time (``runtime_s`` is an attribute), so a
resumed run's datasets are byte-identical to an uninterrupted one's.
"""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np

from ..config import Config
from ..errors import InputError, WriteError
from ..observables import observables_for
from ..outcome import classify
from .checkpoint import checkpoint_nbytes, checkpoint_step, current_slot, write_checkpoint
from .frames import FIELDS, FieldSpec, FrameWriter, coarse_grid, xdmf_path  # noqa: F401 (imported from here too)
from . import space
from .layout import LIBVER, write_clones, write_header
from .reader import open_for_writing
from .rows import ObservableRows

#: Groups derived from the whole run, dropped when it is continued: the clone
#: table (rewritten at the end) and ``/analysis`` (``gpusim analyse``).
DERIVED_GROUPS = ("clones", "analysis")


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

    f: h5py.File
    rows: ObservableRows
    frames: FrameWriter

    def __init__(self, path: str | Path, cfg: Config, backend: str):
        self._setup(path, cfg, runtime_s=0.0)
        self.f = f = h5py.File(self.path, "w", libver=LIBVER)
        write_header(f, cfg, backend)
        self.rows = ObservableRows.create(f, self.dt_days, observables_for(cfg))
        self.frames = FrameWriter.create(f, cfg, self.path)
        self._checkpoint_step: int | None = None  # none written yet
        f.attrs["status"] = "running"
        f.flush()

    @classmethod
    def reopen(cls, path: str | Path, cfg: Config, backend: str) -> "RunWriter":
        """Continue an existing run file from its checkpoint: every row and
        frame after the checkpoint step is dropped (it will be recomputed),
        as is an end-of-run frame off the ``frame_every_steps`` grid, the
        derived groups and the end-of-run attributes.  ``cfg`` is the config
        the continued run follows (its ``simulation.steps`` may be larger)."""
        self = cls.__new__(cls)
        self._setup(path, cfg, runtime_s=0.0)
        self.f = f = open_for_writing(self.path, LIBVER)
        step = checkpoint_step(f)
        missing = [n for n in observables_for(cfg) if f"observables/{n}/value" not in f]
        if step is None or missing:
            f.close()
            raise InputError(f"{self.path}: has no checkpoint to continue from" if step is None
                             else f"{self.path}: missing dataset /observables/{missing[0]}/value")
        self.runtime0 = float(current_slot(f).attrs.get("runtime_s", 0.0))
        self.rows = ObservableRows.resume(f, self.dt_days, step, observables_for(cfg))
        self.frames = FrameWriter.resume(f, cfg, self.path, step)
        self._checkpoint_step = step
        for derived in DERIVED_GROUPS:
            if derived in f:
                del f[derived]
        for attr in [a for a in f.attrs if a != "status"]:
            del f.attrs[attr]  # end-of-run attributes (outcome, runtime, ...) are rewritten at the end
        f["parameters"].attrs["config"] = cfg.to_toml()
        f["parameters"].attrs["backend"] = backend
        f.attrs["status"] = "running"
        f.flush()
        self.frames.write_xdmf()
        return self

    def _setup(self, path, cfg: Config, runtime_s: float) -> None:
        self._t0 = time.perf_counter()
        self.runtime0 = runtime_s
        self.path = Path(path)
        self.cfg = cfg
        self.dt_days = cfg.simulation.dt_days

    @property
    def runtime_s(self) -> float:
        """Wall time of the run so far, over every segment up to the checkpoint it resumed from."""
        return self.runtime0 + time.perf_counter() - self._t0

    @property
    def last_step(self) -> int | None:
        """The step of the last observable row recorded (None before the first)."""
        return self.rows.last_step

    # ------------------------------------------------------------ streams
    def start(self, observables: dict[str, int], state_fn) -> None:
        """Row, frame and checkpoint of the initial state (nothing when the
        file already has them, i.e. when resuming)."""
        if self.last_step is not None:
            return
        state = state_fn()
        self.rows.record(state.step, observables)
        kinds = self.frames.due(state.step)
        if kinds:
            self.frame(state, kinds)
        self.checkpoint(state)

    def on_step(self, step: int, observables: dict[str, int], state_fn) -> None:
        """After each step: buffer the row; write a frame and/or checkpoint when due.

        ``state_fn`` returns the state (host or device arrays); it is called only then."""
        self.rows.record(step, observables)
        self.write_due(step, state_fn)

    def write_due(self, step: int, state_fn) -> None:
        """Write what is due at ``step`` (the last row recorded): a frame
        and/or checkpoint, else the rows once enough are buffered."""
        out = self.cfg.output
        kinds = self.frames.due(step)
        checkpoint = out.checkpoint_every_steps and step % out.checkpoint_every_steps == 0
        if kinds or checkpoint:
            state = state_fn()
            if kinds:
                self.frame(state, kinds)
            if checkpoint:
                self.checkpoint(state)
        elif self.rows.full:
            self.flush()

    def record_rows(self, steps: np.ndarray, values: dict) -> None:
        """Buffer rows: ``steps`` and, per observable, one value per step (a
        run of a batch gets its rows many steps at a time: gpusim.batch)."""
        self.rows.record_rows(steps, values)

    def flush(self) -> None:
        """Write the buffered rows and flush the file."""
        self.rows.write()
        self.f.flush()

    def _require(self, nbytes: int, what: str) -> None:
        """Room for ``nbytes`` more, or mark the file failed, close it cleanly
        and raise :class:`~gpusim.errors.WriteError` (:mod:`gpusim.io.space`)."""
        try:
            space.require(self.path, nbytes + self.rows.write_nbytes(), what, self._checkpoint_step)
        except WriteError as err:
            self.fail(str(err))
            raise

    def frame(self, state, kinds=("full",)) -> None:
        """Append one frame of every field (series ``kinds``: full, slices),
        flush, update the XDMF file."""
        self._require(self.frames.frame_nbytes(state, kinds), f"the frame of step {state.step}")
        self.frames.append(state, kinds)
        self.flush()
        self.frames.write_xdmf()

    def checkpoint(self, state) -> None:
        """Write the rows so far and the full state for exact restart."""
        self._require(checkpoint_nbytes(state), f"the checkpoint of step {state.step}")
        self.rows.write()
        write_checkpoint(self.f, state, runtime_s=self.runtime_s)
        self._checkpoint_step = state.step

    def classify(self) -> dict:
        """Outcome (and response) from the whole trajectory, resumed or not."""
        steps, cells = self.rows.history("tumour_cells")
        _, edge = self.rows.history("edge_cells")
        return classify(self.cfg, steps * self.dt_days, cells, edge)

    def close(self, state, status: str = "complete", **attrs) -> None:
        """End the run at ``state``: a last frame if the run is complete and
        its last step is off the frame grid, a final checkpoint (so a complete
        run can be extended), the clone table, root attributes, close."""
        if status == "complete":  # the last frame of each series that ends off its grid
            kinds = [k for k in self.frames.due(state.step, end=True) if k not in self.frames.due(state.step)]
            if kinds:
                self.frame(state, kinds)
        self.frames.ensure_datasets(state)
        if self._checkpoint_step != state.step:
            self.checkpoint(state)
        self.flush()
        write_clones(self.f, state)
        if status == "complete":
            attrs.update(self.classify())
        attrs.setdefault("steps", state.step)
        attrs.setdefault("runtime_s", self.runtime_s)
        for k, v in attrs.items():
            self.f.attrs[k] = v
        self.f.attrs["status"] = status
        self.f.close()
        self.frames.write_xdmf()

    def fail(self, message: str) -> None:
        if self.f.id.valid:
            self.f.attrs["status"] = "failed"
            self.f.attrs["error"] = message
            self.f.close()
