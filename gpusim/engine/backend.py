"""The kernel backends (cpu, cuda): state on the device, one step = the
model's phases as kernel launches.

>>> from gpusim.config import Config
>>> from gpusim.engine.backend import KernelBackend
>>> from gpusim.engine.device import CpuDevice
>>> from gpusim.state import initial_state
>>> cfg = Config.model_validate({"lattice": {"shape": [32, 32]}})
>>> be = KernelBackend(CpuDevice(), cfg)            # the state at step 0, built by kernels
>>> be.step()["divisions"] >= 0
True
>>> be.observe()["tumour_cells"] == int((be.host_state().sites["clone"] != 0).sum())
True
"""

from __future__ import annotations

import numpy as np

from .. import abi
from ..abi import COUNTERS, OBSERVED
from ..config import Config
from ..params import StepParams, model_params
from ..state import State, grow_clone_table, initial_params
from ..step import Backend
from . import chemokine, initial, tcell, tumour

#: Device sums over tumour cells -> (the per-cell mean observable, scale):
#: the mean is sum / cells / scale, taken on the host in float64.
_PER_CELL_SUMS = {"recognition_sum": ("mean_recognition", 2.0**32), "mutation_sum": ("tmb", 1.0),
                  "neoantigen_sum": ("neoantigen_load", 1.0)}

ALL_ONES = 0xFF  # claim[] between phases: every byte of every entry (NO_BID)
#: Counted by tcell_death after a step (so only when the immune phases run).
TCELL_OBSERVABLES = ("tcells", "tcells_exhausted")

class KernelBackend(Backend):
    """Runs the kernels of ``kernels/`` on a :mod:`~gpusim.engine.device`."""

    def __init__(self, device, cfg: Config, state: State | None = None):
        """``state`` is copied to the device; without one, kernels build the
        state at step 0 there (kernels/initial.cu), touching no per-site
        data on the host."""
        self.device = device
        self.name = device.name
        self.xp = device.xp
        self.cfg = cfg
        self.mp = model_params(cfg)
        xp = self.xp
        n = self.mp.n_sites
        # Scratch: claim bids for two-phase moves (also marks new clones),
        # all ones between phases (initial_sites writes every entry).
        self.claim = xp.empty(n, dtype=xp.uint64)
        if state is None:
            self.state = initial.empty_state(xp, self.mp)
        else:
            self.state = state.map(xp.asarray)
            device.fill_bytes(self.claim, ALL_ONES)
        self.chemokine_scratch = xp.zeros(self.mp.n_field, dtype=xp.float32)
        self.new_sites = xp.zeros(16, dtype=xp.uint32)
        self.selected = xp.zeros(16, dtype=xp.uint64)
        chunks, groups = tumour.found_chunks(n)
        self.found_chunks = xp.zeros(chunks, dtype=xp.uint32)
        self.found_groups = xp.zeros(groups, dtype=xp.uint32)
        self.counters = xp.zeros(abi.constants()["N_COUNTERS"], dtype=xp.uint64)
        # Params fields named like a ModelParams (or InitialParams) attribute
        # are filled from it; the rest are per step (StepParams, the step
        # number) or per launch.
        self.params = abi.params_record()
        self.write_params(**abi.params_values(self.mp), **abi.params_values(initial_params(cfg)))
        self._params_buf = device.params_buffer(self.params)
        self._fields_buf = None
        self._observed: dict | None = None
        if state is None:
            initial.build(self)
        else:
            self.refresh_fields()

    # ----------------------------------------------------------------- setup
    def refresh_fields(self) -> None:
        """Rebuild the Fields pointer block (after any array is reallocated)."""
        st = self.state
        arrays = dict(st.sites)
        arrays.update({f"clone_{k}": v for k, v in st.clones.items()})
        arrays.update(st.extra)
        arrays.update(claim=self.claim, new_sites=self.new_sites, counters=self.counters,
                      chemokine_scratch=self.chemokine_scratch, selected=self.selected,
                      found_chunks=self.found_chunks, found_groups=self.found_groups)
        self._fields_buf = self.device.fields_buffer(arrays)

    def write_params(self, **values) -> None:
        """Set Params fields on the host copy; an array shorter than its
        field fills the front (the neighbour offsets), the rest stays 0."""
        for k, v in values.items():
            if np.ndim(v):
                self.params[k][0, : len(v)] = v
            else:
                self.params[k] = v

    def set_params(self, **values) -> None:
        """Set Params fields and upload the block to the device."""
        self.write_params(**values)
        self.device.upload_params(self._params_buf, self.params)

    def launch(self, kernel: str, n_threads: int, sub: int = 0) -> None:
        """Run ``kernel`` over ``n_threads`` threads; ``sub`` is its substep
        argument (diffusion substep, T-cell move)."""
        self.device.launch(kernel, n_threads, self._params_buf, self._fields_buf, sub)

    def ensure_clone_capacity(self, needed: int) -> None:
        grown = grow_clone_table(self.state.clones, needed, self.xp, self.device.copy)
        if grown is not self.state.clones:
            self.state.clones = grown
            self.refresh_fields()

    def ensure_new_sites(self, sites) -> None:
        """Copy compacted site indices into the kernel-visible buffer."""
        if len(sites) > len(self.new_sites):
            self.new_sites = self.xp.zeros(max(2 * len(self.new_sites), len(sites)), dtype=self.xp.uint32)
            self.refresh_fields()
        self.device.upload(self.new_sites[: len(sites)], sites)

    def ensure_selected(self, needed: int) -> None:
        """Room for ``needed`` bids in the selection buffer (select.cu)."""
        if needed > len(self.selected):
            self.selected = self.xp.zeros(max(2 * len(self.selected), needed), dtype=self.xp.uint64)
            self.refresh_fields()

    # ------------------------------------------------------------------ step
    # Backend.step runs these in the order of gpusim.step.PHASES.
    def begin_step(self, sp: StepParams) -> None:
        self.device.fill_bytes(self.counters, 0)
        self.set_params(step=self.state.step, **abi.params_values(sp))

    def chemokine(self, sp: StepParams, events: dict) -> None:
        chemokine.run_step(self)

    def tcell_recruit(self, sp: StepParams, events: dict) -> None:
        tcell.recruit(self, sp)

    def tcell_kill(self, sp: StepParams, events: dict) -> None:
        tcell.kill(self)

    def tumour_death(self, sp: StepParams, events: dict) -> None:
        tumour.death(self)

    def tumour_divide(self, sp: StepParams, events: dict) -> None:
        events["new_clones"] = tumour.divide(self)

    def tcell_migrate(self, sp: StepParams, events: dict) -> None:
        tcell.migrate(self)

    def tcell_death(self, sp: StepParams, events: dict) -> None:
        tcell.death(self)

    def end_step(self, events: dict) -> None:
        """The state observables come back with the step's counts in one
        transfer (:meth:`observe`).  The per-site ones were counted by the
        kernels that last changed their layer (tumour_divide_commit,
        tcell_death); the clone table is reduced now."""
        self.launch("observe_clones", self.state.n_clones, sub=self.state.n_clones)
        c = self.device.to_host(self.counters)
        events.update({name: int(c[idx]) for name, idx in COUNTERS.items()})
        obs = self._observables(c)
        if not self.mp.immune_on:  # no T-cell phase ran: the T-cell layer is as it was
            obs.update({k: self.observe()[k] for k in TCELL_OBSERVABLES})
        self._observed = obs

    # ------------------------------------------------------------- interface
    def synchronize(self) -> None:
        self.device.synchronize()

    def copy_bytes_per_s(self, nbytes: int) -> float:
        return self.device.copy_bytes_per_s(nbytes)

    def launch_recorder(self):
        from .profile import Recorder

        return Recorder(self)

    def describe(self) -> str:
        return self.device.describe()


    def _observables(self, c: np.ndarray) -> dict:
        obs = {name: int(c[idx]) for name, idx in OBSERVED.items() if name not in _PER_CELL_SUMS}
        cells = obs["tumour_cells"]
        for sum_name, (name, scale) in _PER_CELL_SUMS.items():
            obs[name] = int(c[OBSERVED[sum_name]]) / cells / scale if cells else 0.0
        return obs

    def observe(self) -> dict:
        """The state observables (gpusim/observables.py STATE) of the current
        state: from the last step's transfer, or reduced now."""
        if self._observed is None:
            self.device.fill_bytes(self.counters, 0)
            self.launch("observe_sites", self.mp.n_sites)
            self.launch("observe_clones", self.state.n_clones, sub=self.state.n_clones)
            self._observed = self._observables(self.device.to_host(self.counters))
        return self._observed

    def host_state(self) -> State:
        return self.state.map(self.device.to_host)

    def snapshot(self) -> State:
        # host_state shares memory with the state on the cpu device (a host array is its own host copy).
        return self.state.map(lambda a: a.copy() if isinstance(a, np.ndarray) else self.device.to_host(a))

    def restore(self, state: State) -> None:
        """The state of an abandoned step's start, with scratch as a step expects it."""
        super().restore(state)
        self.device.fill_bytes(self.claim, ALL_ONES)  # a move abandoned between propose and commit leaves bids
        self.device.fill_bytes(self.counters, 0)
        self._observed = None
        self.refresh_fields()

    def bytes_per_site(self) -> float:
        """Persistent per-site device memory (state + scratch) per site."""
        st = self.state
        arrays = [*st.sites.values(), *st.extra.values(), self.claim, self.chemokine_scratch]
        return sum(a.nbytes for a in arrays) / self.mp.n_sites
