"""The observable rows of a run file: ``/observables/<name>/{step,time,value}``,
one row per step, buffered in memory and written in blocks.

What is written follows ``gpusim.observables.OBSERVABLES``.  Rows are
written when the run writer flushes (with every frame and checkpoint) or
when :data:`MAX_PENDING_ROWS` are waiting.

>>> import h5py, tempfile, os
>>> from gpusim.observables import OBSERVABLES
>>> with h5py.File(os.path.join(tempfile.mkdtemp(), "x.h5"), "w") as f:
...     rows = ObservableRows.create(f, dt_days=0.5)
...     for step in range(3):
...         rows.record(step, dict.fromkeys(OBSERVABLES, step))
...     rows.write()
...     f["observables/kills/time"][()].tolist(), rows.history("kills")[1].tolist()
([0.0, 0.5, 1.0], [0, 1, 2])
"""

from __future__ import annotations

import h5py
import numpy as np

from ..observables import OBSERVABLES
from .layout import append, time_datasets, truncate

#: Observable rows buffered before a write even without a frame or checkpoint.
MAX_PENDING_ROWS = 4096
#: Rows per HDF5 chunk of an observable series.
ROW_CHUNK = 4096


class ObservableRows:
    """The ``/observables`` group of an open run file and its unwritten rows."""

    def __init__(self, f: h5py.File, dt_days: float, specs: dict | None = None):
        self.group = f["observables"]
        self.dt_days = dt_days
        self.specs = OBSERVABLES if specs is None else specs  # the run's (gpusim.observables.observables_for)
        # Unwritten rows as chunks of arrays (a run of a batch gets its rows
        # many steps at a time: gpusim.batch).
        self._pending: dict[str, list[np.ndarray]] = {name: [] for name in self.specs}
        self._steps: list[np.ndarray] = []
        self._n = 0
        self.last_step: int | None = None  # last row recorded

    @classmethod
    def create(cls, f: h5py.File, dt_days: float, specs: dict | None = None) -> "ObservableRows":
        """Create the empty series of every observable (of ``specs``, default OBSERVABLES)."""
        specs = OBSERVABLES if specs is None else specs
        obs = f.create_group("observables", track_order=True)  # readers list them in OBSERVABLES order
        for name, (dtype, unit, desc) in specs.items():
            g = obs.create_group(name)
            g.attrs["description"] = desc
            time_datasets(g, ROW_CHUNK)
            v = g.create_dataset("value", (0,), maxshape=(None,), dtype=dtype, chunks=(ROW_CHUNK,))
            v.attrs["unit"] = unit
        return cls(f, dt_days, specs)

    @classmethod
    def resume(cls, f: h5py.File, dt_days: float, step: int, specs: dict | None = None) -> "ObservableRows":
        """The rows of an existing file, cut after ``step`` (they will be recomputed)."""
        for g in f["observables"].values():
            truncate(g, int(np.searchsorted(g["step"][()], step, side="right")))
        rows = cls(f, dt_days, specs)
        rows.last_step = step
        return rows

    @property
    def full(self) -> bool:
        """Enough rows wait that they should be written now."""
        return self._n >= MAX_PENDING_ROWS

    def record(self, step: int, values: dict[str, int]) -> None:
        """Buffer one row (written at the next :meth:`write`)."""
        self.record_rows(np.array([step], dtype=np.int64), {name: [values[name]] for name in self.specs})

    def record_rows(self, steps: np.ndarray, values: dict) -> None:
        """Buffer rows: ``steps`` and, per observable, one value per step."""
        if not len(steps):
            return
        self._steps.append(np.asarray(steps, dtype=np.int64))
        for name, (dtype, _, _) in self.specs.items():
            self._pending[name].append(np.asarray(values[name], dtype=dtype))
        self._n += len(steps)
        self.last_step = int(steps[-1])

    def _buffered(self, name: str) -> np.ndarray:
        chunks = self._pending[name]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=self.specs[name][0])

    def write_nbytes(self) -> int:
        """Bytes the next :meth:`write` may allocate: whole chunks of ROW_CHUNK rows."""
        if not self._steps:
            return 0
        written = len(next(iter(self.group.values()))["step"])
        chunks = -(-(written + len(self._steps)) // ROW_CHUNK) - -(-written // ROW_CHUNK)
        row = sum(8 + 8 + np.dtype(dtype).itemsize for dtype, _, _ in self.specs.values())  # step, time, value
        return chunks * ROW_CHUNK * row

    def write(self) -> None:
        """Append the buffered rows to the file (not flushed)."""
        if not self._steps:
            return
        steps = np.concatenate(self._steps)
        for name in self.specs:
            g = self.group[name]
            append(g["step"], steps)
            append(g["time"], steps * self.dt_days)
            append(g["value"], self._buffered(name))
            self._pending[name].clear()
        self._steps.clear()
        self._n = 0

    def history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of observable ``name`` for every row so far, on disk
        and buffered.  After a resume the process has seen only the steps
        since the checkpoint; end-of-run metrics (outcome, response) that need
        the whole trajectory read it from here."""
        g = self.group[name]
        steps = np.concatenate([g["step"][()], *self._steps])
        values = np.concatenate([g["value"][()], self._buffered(name)])
        return steps, values
