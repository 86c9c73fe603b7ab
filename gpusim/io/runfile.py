"""Writing a run file: H5MD 1.1 layout (DESIGN §5), readable by plain h5py.

::

    /h5md                  version; author; creator (gpusim + version)
    /parameters            attrs: config (TOML), seed, backend, lattice shape
    /observables/<name>/   step (int64), time (float64, days), value
    /fields/<name>/        step, time, value[frame, (z,) y, x]; one frame per
                           chunk, gzip + shuffle
    /clones/               the clone table, one row per clone id
    root attrs             status = running | complete | failed, outcome, ...

Frames and observables are flushed to disk with every frame, so a run
killed mid-way leaves a readable file.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..config import Config
from ..lattice import array_shape
from ..observables import OBSERVABLES

#: Fields written as frames: name -> (state array, unit, description).  Arrays
#: of ``State.sites`` are lattice-shaped; arrays of ``State.extra`` live on
#: the coarse chemokine grid (attribute ``grid_coarsening`` on the group).
FIELDS = {
    "tumour_clone": ("clone", "clone id", "tumour clone id per site, 0 = no tumour cell"),
    "tcells": ("tcell", "bits", "T cell per site: 128 = present | exhaustion << 4 | kills left; 0 = none"),
    "chemokine": ("chemokine", "concentration", "chemokine per field cell (amount per site volume)"),
}


def field_layout(cfg: Config, key: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(frame shape, dtype, coarsening) of the state array ``key``."""
    from ..params import model_params
    from ..state import FIELD_ARRAYS, SITE_ARRAYS

    if key in SITE_ARRAYS:
        return array_shape(cfg.lattice.shape), SITE_ARRAYS[key], 1
    mp = model_params(cfg)
    return array_shape(mp.field_shape[: cfg.lattice.dim]), FIELD_ARRAYS[key], mp.coarsen


class RunWriter:
    """Streams one run into an HDF5 file.

    >>> import tempfile, os
    >>> from gpusim import Config, Simulation
    >>> cfg = Config.model_validate({"lattice": {"shape": [8, 8]}})
    >>> sim = Simulation(cfg, backend="numpy")
    >>> w = RunWriter(os.path.join(tempfile.mkdtemp(), "run.h5"), cfg, backend="numpy")
    >>> w.record(0, sim.last_observables); w.frame(sim.state())
    >>> w.record(1, sim.step()); w.close(sim.state(), "complete")
    """

    def __init__(self, path: str | Path, cfg: Config, backend: str):
        self.path = Path(path)
        self.cfg = cfg
        self.dt_days = cfg.simulation.dt_minutes / 1440.0
        self.f = h5py.File(self.path, "w", libver="latest")
        self._pending: dict[str, list] = {name: [] for name in OBSERVABLES}
        self._pending_steps: list[int] = []
        self._write_header(backend)

    # ------------------------------------------------------------- layout
    def _write_header(self, backend: str) -> None:
        f, cfg = self.f, self.cfg
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5md.create_group("author").attrs["name"] = "gpusim user"
        creator = h5md.create_group("creator")
        creator.attrs["name"] = "gpusim"
        creator.attrs["version"] = __version__
        p = f.create_group("parameters")
        p.attrs["config"] = cfg.to_toml()
        p.attrs["seed"] = np.uint64(cfg.simulation.seed)
        p.attrs["backend"] = backend
        p.attrs["lattice_shape"] = np.array(cfg.lattice.shape, dtype=np.int64)
        p.attrs["dt_minutes"] = cfg.simulation.dt_minutes
        obs = f.create_group("observables")
        for name, (dtype, unit, desc) in OBSERVABLES.items():
            g = obs.create_group(name)
            g.attrs["description"] = desc
            g.create_dataset("step", (0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))
            g.create_dataset("time", (0,), maxshape=(None,), dtype=np.float64, chunks=(4096,))
            g["time"].attrs["unit"] = "day"
            v = g.create_dataset("value", (0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
            v.attrs["unit"] = unit
        fields = f.create_group("fields")
        for name, (key, unit, desc) in FIELDS.items():
            shape, dtype, coarsening = field_layout(cfg, key)
            g = fields.create_group(name)
            g.attrs["description"] = desc
            g.attrs["grid_coarsening"] = coarsening
            g.create_dataset("step", (0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
            g.create_dataset("time", (0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
            g["time"].attrs["unit"] = "day"
            v = g.create_dataset(
                "value", (0, *shape), maxshape=(None, *shape), dtype=dtype,
                chunks=(1, *shape), compression="gzip", compression_opts=4, shuffle=True,
            )
            v.attrs["unit"] = unit
        f.attrs["status"] = "running"
        f.flush()

    # ------------------------------------------------------------ streams
    def record(self, step: int, values: dict[str, int]) -> None:
        """Buffer one row of observables (written at the next flush)."""
        self._pending_steps.append(step)
        for name in OBSERVABLES:
            self._pending[name].append(values[name])

    def flush(self) -> None:
        n = len(self._pending_steps)
        if n:
            steps = np.array(self._pending_steps, dtype=np.int64)
            for name, (dtype, _, _) in OBSERVABLES.items():
                g = self.f["observables"][name]
                _append(g["step"], steps)
                _append(g["time"], steps * self.dt_days)
                _append(g["value"], np.array(self._pending[name], dtype=dtype))
                self._pending[name].clear()
            self._pending_steps.clear()
        self.f.flush()

    def frame(self, state) -> None:
        """Append one frame of every field (host state) and flush."""
        for name, (key, _, _) in FIELDS.items():
            g = self.f["fields"][name]
            values = state.sites[key] if key in state.sites else state.extra[key]
            _append(g["step"], np.array([state.step], dtype=np.int64))
            _append(g["time"], np.array([state.step * self.dt_days]))
            _append(g["value"], values.reshape(1, *g["value"].shape[1:]))
        self.flush()

    def classify(self) -> dict:
        """Outcome and response from the observables on disk (so a resumed
        run is judged on its whole history)."""
        from ..outcome import classify

        obs = self.f["observables"]
        return classify(self.cfg, obs["tumour_cells/time"][()], obs["tumour_cells/value"][()],
                        obs["edge_cells/value"][()])

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

    def close(self, state, status: str, **attrs) -> None:
        """Final clone table, root attributes, close the file."""
        self.flush()
        self.write_clones(state)
        for k, v in attrs.items():
            self.f.attrs[k] = v
        self.f.attrs["status"] = status
        self.f.close()

    def fail(self, message: str) -> None:
        if self.f.id.valid:
            self.f.attrs["status"] = "failed"
            self.f.attrs["error"] = message
            self.f.close()


def _append(ds: h5py.Dataset, data: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + len(data), axis=0)
    ds[n:] = data
