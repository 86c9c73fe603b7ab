"""The kernel backends (cpu, cuda): the state of a batch of runs on the
device, one step = the model's phases as kernel launches over every run.

A batch (cohort) is B runs whose arrays have the same shape (lattice,
neighbourhood, boundary, chemokine grid; see :func:`gpusim.batch.batch_key`).
Every per-site array is one ``(B, n)`` array and every clone column one
``(B, capacity)`` array; a launch covers all sites of all active runs (grid
y = run), and each run reads its own ``Params`` record (seed, thresholds,
therapy of the step) and ``Fields`` record (pointers to its rows): kernel
bodies see one run as if it were alone (``GPUSIM_BIND_RUN``,
kernels/common.cuh).  A run alone is a batch of one.

>>> from gpusim.config import Config
>>> from gpusim.engine.backend import KernelBackend
>>> from gpusim.engine.device import CpuDevice
>>> cfgs = [Config.model_validate({"lattice": {"shape": [32, 32]}, "simulation": {"seed": s}}) for s in (1, 2)]
>>> be = KernelBackend(CpuDevice(), cfgs)          # the states at step 0, built by kernels
>>> events = be.step()
>>> events["divisions"].shape, be.run_state(1).step
((2,), 1)
>>> int(be.observe()["tumour_cells"][1]) == int((be.host_state(1).sites["clone"] != 0).sum())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import components
from ..abi import COUNTERS, OBSERVED
from ..config import Config
from ..params import ModelParams, model_params
from ..state import State
from ..step import BatchBackend, PhaseRunner
from . import initial, tiles
from .arrays import ALL_ONES, DeviceArrays
from .param_table import ParamTable, therapy_groups

#: Device sums over tumour cells -> (the per-cell mean observable, scale):
#: the mean is sum / cells / scale, taken on the host in float64.
_PER_CELL_SUMS = {"recognition_sum": ("mean_recognition", 2.0**32), "mutation_sum": ("tmb", 1.0),
                  "neoantigen_sum": ("neoantigen_load", 1.0)}

#: Counted by tcell_death after a step (so only when the immune phases run).
TCELL_OBSERVABLES = tuple(components.TCELLS.observables)

#: ModelParams fields that shape arrays or launches: equal across a batch.
SHARED = ("shape", "periodic", "field_shape", "coarsen", "field_dim", "immune_on")


def check_batchable(mps: list[ModelParams]) -> None:
    """Raise ValueError unless every run has the same array shapes."""
    first = mps[0]
    for i, mp in enumerate(mps[1:], 1):
        for name in SHARED:
            if getattr(mp, name) != getattr(first, name):
                raise ValueError(f"run {i} of the batch differs from run 0 in {name}: "
                                 f"{getattr(mp, name)} != {getattr(first, name)}")
        if not np.array_equal(mp.nbr, first.nbr):
            raise ValueError(f"run {i} of the batch differs from run 0 in its neighbourhood")


@dataclass
class BatchStep:
    """What the phases of one batched step need beyond the Params records:
    the adoptive transfers due, run -> ((cells, where), ...)."""

    transfers: dict[int, tuple]


class KernelBackend(PhaseRunner, BatchBackend):
    """Runs the kernels of ``kernels/`` for a batch of runs on a :mod:`~gpusim.engine.device`.

    Three parts: the device state (:class:`~gpusim.engine.arrays.DeviceArrays`,
    ``arrays``: allocation and growth; its arrays read as attributes of the
    backend, ``be.sites``, ``be.claim``), the per-run parameter table
    (:class:`~gpusim.engine.param_table.ParamTable`, ``table``, with the
    therapy groups that update it), and the phase orchestration here: each
    phase one launch sequence over every active run, run by
    :meth:`~gpusim.step.PhaseRunner.run_phases` like every backend."""

    side = "engine"  # gpusim.engine.phases

    def __init__(self, device, cfgs: list[Config] | Config, states: list[State | None] | State | None = None):
        """``states[b]`` is copied to the device; runs without one (or every
        run, ``states=None``) start from the state at step 0 built by
        kernels there (kernels/initial.cu), touching no per-site data on the
        host.  A single config (and state) is a batch of one."""
        if isinstance(cfgs, Config):
            cfgs, states = [cfgs], [states]
        states = list(states) if states is not None else [None] * len(cfgs)
        if not cfgs or len(cfgs) != len(states):
            raise ValueError("a batch needs one state (or None) per config, and at least one run")
        self.device = device
        self.name = device.name
        self.xp = device.xp
        self.cfgs = list(cfgs)
        self.mps = [model_params(c) for c in cfgs]
        check_batchable(self.mps)
        self.mp = self.mps[0]  # the shared shapes
        self.cfg = self.cfgs[0]
        self.arrays = DeviceArrays(device, self.cfgs)
        self.table = ParamTable(self.cfgs, self.mps)
        self.active = np.arange(len(cfgs))
        self._fields_buf = None
        self._observed: dict | None = None
        tiles.setup(self)
        if any(s is None for s in states):
            initial.build(self)
        else:
            device.fill_bytes(self.claim, ALL_ONES)
        for b, s in enumerate(states):
            if s is not None:
                self.arrays.load(b, s)
        self.refresh_fields()
        tiles.mark_all(self)
        self._groups = therapy_groups(self.cfgs, self.mps, self.steps)

    def __getattr__(self, name: str):
        # The device arrays (sites, clones, extra, scratch, counters, steps,
        # n_clones) read as the backend's own: phase code says be.claim.
        arrays = self.__dict__.get("arrays")
        if arrays is None:
            raise AttributeError(name)
        return getattr(arrays, name)

    @property
    def n_runs(self) -> int:
        return len(self.cfgs)

    @property
    def steps(self) -> np.ndarray:
        return self.arrays.steps

    # ----------------------------------------------------------- records
    def refresh_fields(self) -> None:
        """Rebuild every run's Fields pointers (after any array is reallocated)."""
        self.arrays.refresh_fields()

    def _fields_buffer(self, rows=None):
        fields = self.arrays.fields
        if rows is not None:
            return self.device.fields_buffer(fields[rows])
        if self._fields_buf is None or self.arrays.fields_dirty:
            all_active = len(self.active) == self.n_runs
            self._fields_buf = self.device.fields_buffer(fields if all_active else fields[self.active])
            self.arrays.fields_dirty = False
        return self._fields_buf

    def set_fields(self, rows, **values) -> None:
        """Set Params fields of runs ``rows`` (uploaded before the next launch, if changed)."""
        self.table.set_fields(rows, **values)

    def buffers(self, rows=None):
        """Params and Fields records of ``rows`` (default: the active runs)
        where kernels read them (the cached buffers while nothing changed)."""
        params = self.table.current if rows is None else None  # the common case: nothing changed
        if params is None:
            params = self.table.buffer(self.device, self.active, rows)
        fields = self._fields_buf
        if rows is not None or fields is None or self.arrays.fields_dirty:
            fields = self._fields_buffer(rows)
        return params, fields

    def launch(self, kernel: str, n_threads: int, sub: int = 0, rows=None) -> None:
        """``kernel`` over ``n_threads`` threads of every active run (or of
        ``rows`` only); ``sub`` is its substep argument (diffusion substep,
        T-cell move), the same for every run."""
        params, fields = self.buffers(rows)
        n_runs = len(self.active) if rows is None else len(rows)
        self.device.launch(kernel, n_threads, params, fields, sub, n_runs)

    def launch_sites(self, kernel: str, sub: int = 0) -> None:
        """A per-site phase kernel over the sites it may act on: the active
        tiles of every active run, or every site with tiles off (engine/tiles.py)."""
        tiles.launch_sites(self, kernel, sub)

    def launch_vessels(self, kernel: str) -> None:
        """A vessel kernel (recruitment) over each run's vessel sites with tiles on, every site otherwise."""
        tiles.launch_vessels(self, kernel)

    def refresh_tiles(self) -> None:
        """After a phase that may put cells in new tiles: the active-tile
        lists rebuilt on the device where a tile was switched on."""
        tiles.refresh(self)

    def counts(self) -> np.ndarray:
        """The counters of the active runs on the host, int64 (B, N_COUNTERS):
        one contiguous transfer of every run's, rows picked on the host (no
        device gather: nothing for CuPy to compile mid-run)."""
        return self.device.to_host(self.counters)[self.active].astype(np.int64)

    def ensure_clone_capacity(self, needed: int) -> None:
        self.arrays.ensure_clone_capacity(needed)

    def ensure_new_sites(self, width: int) -> None:
        """Room for ``width`` compacted site indices per run."""
        self.arrays.ensure_width("new_sites", width)

    def ensure_selected(self, needed: int) -> None:
        """Room for ``needed`` bids per run in the selection buffer (select.cu)."""
        self.arrays.ensure_width("selected", needed)

    # ------------------------------------------------------------------ step
    def _therapy(self) -> BatchStep:
        """Update the Params fields whose therapy level changes this step
        (once per therapy group, :class:`~gpusim.engine.param_table.TherapyGroup`);
        the adoptive transfers due now."""
        transfers = {}
        every = len(self.active) == self.n_runs  # the common case: no run has finished
        for g in self._groups:
            live = g.rows if every else g.rows[np.isin(g.rows, self.active)]
            if len(live):
                due = g.apply(self.table, int(self.steps[live[0]]))
                if due:
                    transfers.update({int(b): due for b in live})
        return BatchStep(transfers)

    def step(self) -> dict[str, np.ndarray]:
        """Advance every active run one step (DESIGN §4 order); return the
        step's event counts, one int64 array over the active runs per event.
        A stop inside a guarded step (gpusim.signals) puts every run back at
        the step's start and raises StepAbandoned."""
        events: dict[str, Any] = {}
        self.run_phases(self._therapy(), events)
        self.steps[self.active] += 1
        return events

    def begin_step(self, bs: BatchStep) -> None:
        self.device.fill_bytes(self.counters, 0)
        self.set_fields(self.active, step=self.steps[self.active])

    def end_step(self, events: dict) -> None:
        """The state observables come back with the step's counts in one
        transfer (:meth:`observe`).  The per-site ones were counted by the
        kernel that last changed the T-cell layer (tcell_death); the tumour
        cells on the boundary and the clone tables are reduced now, the
        latter over the rows of the run with the most clones (rows past a
        run's own count hold zeros).  Tiles that emptied leave the lists."""
        tiles.sweep(self)
        rows = int(self.n_clones[self.active].max())
        self.launch("observe_clones", rows, sub=rows)
        for comp in components.active(self.cfg):  # those no phase of theirs can count (Component.observe_each_step)
            if comp.observe_each_step:
                self.launch(comp.observer, self.mp.n_sites)
        self._launch_edge()
        c = self.counts()
        events.update({name: c[:, idx] for name, idx in COUNTERS.items()})
        events.setdefault("new_clones", np.zeros(len(self.active), dtype=np.int64))
        obs = self._observables(c)
        if not components.TCELLS.on(self.cfg):  # no T-cell phase ran: the T-cell layer is as it was
            obs.update({k: self.observe()[k] for k in TCELL_OBSERVABLES})
        self._observed = components.derived(self.cfg, obs)

    def _launch_observers(self) -> None:
        rows = int(self.n_clones[self.active].max())
        self.launch("observe_sites", self.mp.n_sites)
        self.launch("observe_clones", rows, sub=rows)
        for c in components.active(self.cfg):
            if c.observer:
                self.launch(c.observer, self.mp.n_sites)
        self._launch_edge()

    def _launch_edge(self) -> None:
        """Tumour cells on a closed boundary, O(surface) (observe.cu)."""
        if self.mp.periodic:
            return
        if self.tiles_on:
            tiles.launch_entries(self, "observe_edge_tiles")
        else:
            nx, ny, nz = self.mp.shape
            self.launch("observe_edge", ny * nz)  # a thread per row along x

    @staticmethod
    def _observables(c: np.ndarray) -> dict[str, np.ndarray]:
        obs = {name: c[:, idx] for name, idx in OBSERVED.items() if name not in _PER_CELL_SUMS}
        for sum_name, (name, scale) in _PER_CELL_SUMS.items():
            obs[name] = per_cell(c[:, OBSERVED[sum_name]].astype(np.uint64), obs["tumour_cells"], scale)
        return obs

    def observe(self) -> dict[str, np.ndarray]:
        """The state observables (gpusim/observables.py STATE) of the active
        runs, one array each: from the last step's transfer, or reduced now."""
        if self._observed is None:
            self.device.fill_bytes(self.counters, 0)
            self._launch_observers()
            self._observed = components.derived(self.cfg, self._observables(self.counts()))
        return self._observed

    def retire(self, rows) -> None:
        """Runs ``rows`` leave the batch: later launches skip them (their
        arrays stay readable until the backend is dropped)."""
        self.active = np.setdiff1d(self.active, rows)
        self.table.invalidate()
        self._fields_buf = None
        self._observed = None

    # --------------------------------------------------------------- access
    def run_state(self, b: int) -> State:
        """Run ``b``'s state as views of the device arrays."""
        return self.arrays.run_state(b)

    def host_state(self, b: int = 0) -> State:
        return self.run_state(b).map(lambda a: np.array(self.device.to_host(a)))

    def snapshot(self) -> dict:
        """Copies (on the device) of every run's state arrays and counts."""
        return self.arrays.snapshot()

    def restore(self, snap: dict) -> None:
        """Every run back at the abandoned step's start, scratch as a step expects it."""
        self.arrays.restore(snap)
        self._observed = None
        tiles.mark_all(self)

    def synchronize(self) -> None:
        self.device.synchronize()

    def copy_bytes_per_s(self, nbytes: int) -> float:
        return self.device.copy_bytes_per_s(nbytes)

    def launch_recorder(self):
        from .profile import Recorder

        return Recorder(self)

    def describe(self) -> str:
        return self.device.describe()

    def state_bytes(self) -> int:
        """Persistent device memory of every run of the batch (state + scratch)."""
        return self.arrays.nbytes()

    def bytes_per_site(self) -> float:
        """Persistent device memory per site of one run (state + scratch)."""
        return self.state_bytes() / self.mp.n_sites / self.n_runs


def per_cell(total: np.ndarray, cells: np.ndarray, scale: float) -> np.ndarray:
    """total / cells / scale per run (0 without cells), rounded as Python's
    exact integer division rounds (the reference's Observer): float64
    division where both integers are below 2**53 (exact operands, one
    rounding), Python ints elsewhere."""
    out = np.zeros(len(cells), dtype=np.float64)
    small = (total < 2**53) & (cells > 0)
    out[small] = total[small].astype(np.float64) / cells[small].astype(np.float64) / scale
    for b in np.flatnonzero((total >= 2**53) & (cells > 0)):
        out[b] = int(total[b]) / int(cells[b]) / scale
    return out
