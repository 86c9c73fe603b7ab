"""The kernel backends (cpu, cuda): state on the device, one step = the
model's phases as kernel launches.

>>> from gpusim.config import Config
>>> from gpusim.engine.backend import KernelBackend
>>> from gpusim.engine.device import CpuDevice
>>> from gpusim.state import initial_state
>>> cfg = Config.model_validate({"lattice": {"shape": [32, 32]}})
>>> be = KernelBackend(CpuDevice(), cfg, initial_state(cfg))
>>> be.step()["divisions"] >= 0
True
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..params import model_params, step_params
from ..state import State, grow_clone_table
from ..therapy import at_step
from . import abi, chemokine, tcell, tumour

_C = abi.constants()
COUNTERS = {
    "divisions": _C["COUNTER_DIVISIONS"],
    "deaths": _C["COUNTER_DEATHS"],
    "kills": _C["COUNTER_KILLS"],
    "recruited": _C["COUNTER_RECRUITED"],
    "expansions": _C["COUNTER_EXPANSIONS"],
    "tcell_deaths": _C["COUNTER_TCELL_DEATHS"],
    "transferred": _C["COUNTER_TRANSFERRED"],
}


class KernelBackend:
    """Runs the kernels of ``kernels/`` on a :mod:`~gpusim.engine.device`."""

    def __init__(self, device, cfg: Config, state: State):
        self.device = device
        self.name = device.name
        self.xp = device.xp
        self.cfg = cfg
        self.mp = model_params(cfg)
        xp = self.xp
        self.state = state.map(xp.asarray)
        n = self.mp.n_sites
        # Scratch: claim bids for two-phase moves (also marks new clones).
        self.claim = xp.full(n, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=xp.uint64)
        self.chemokine_scratch = xp.zeros(self.mp.n_field, dtype=xp.float32)
        self.new_sites = xp.zeros(16, dtype=xp.uint32)
        self.counters = xp.zeros(abi.constants()["N_COUNTERS"], dtype=xp.uint64)
        self.params = self._static_params()
        self._params_buf = device.params_buffer(self.params)
        self._fields_buf = None
        self.refresh_fields()

    # ----------------------------------------------------------------- setup
    def _static_params(self) -> np.ndarray:
        mp = self.mp
        P = abi.params_record()
        nx, ny, nz = mp.shape
        P["n_sites"], P["nx"], P["ny"], P["nz"] = mp.n_sites, nx, ny, nz
        P["n_nbr"] = len(mp.nbr)
        P["periodic"] = int(mp.periodic)
        P["key0"], P["key1"] = mp.key
        k = len(mp.nbr)
        P["nbr_dx"][0, :k], P["nbr_dy"][0, :k], P["nbr_dz"][0, :k] = mp.nbr[:, 0], mp.nbr[:, 1], mp.nbr[:, 2]
        for name in ("p_tumour_divide", "p_tumour_death", "p_stem_symmetric", "max_divisions",
                     "p_neoantigen", "p_mut_pdl1", "p_mut_hla", "coarsen", "field_dim", "chem_alpha",
                     "chem_secretion", "chem_burst", "chem_decay", "chem_level_scale", "p_kill_attempt",
                     "exhaustion_threshold", "kills_per_tcell", "p_expand", "p_tcell_death",
                     "p_tcell_death_exhausted", "chemotaxis", "full_moves", "p_partial_move"):
            P[name] = getattr(mp, name)
        P["fx"], P["fy"], P["fz"] = mp.field_shape
        P["n_field"] = mp.n_field
        P["immunogenicity"][0] = mp.immunogenicity
        P["mutation_sf"][0] = mp.mutation_sf
        return P

    def refresh_fields(self) -> None:
        """Rebuild the Fields pointer block (after any array is reallocated)."""
        st = self.state
        arrays = dict(st.sites)
        arrays.update({f"clone_{k}": v for k, v in st.clones.items()})
        arrays.update(st.extra)
        arrays.update(claim=self.claim, new_sites=self.new_sites, counters=self.counters,
                      chemokine_scratch=self.chemokine_scratch)
        self._fields_buf = self.device.fields_buffer(arrays)

    def set_params(self, **values) -> None:
        for k, v in values.items():
            self.params[k][0] = v
        self.device.upload_params(self._params_buf, self.params)

    def launch(self, kernel: str, n_threads: int) -> None:
        self.device.launch(kernel, n_threads, self._params_buf, self._fields_buf)

    def ensure_clone_capacity(self, needed: int) -> None:
        grown = grow_clone_table(self.state.clones, needed, self.xp)
        if grown is not self.state.clones:
            self.state.clones = grown
            self.refresh_fields()

    def ensure_new_sites(self, sites) -> None:
        """Copy compacted site indices into the kernel-visible buffer."""
        if len(sites) > len(self.new_sites):
            self.new_sites = self.xp.zeros(max(2 * len(self.new_sites), len(sites)), dtype=self.xp.uint32)
            self.refresh_fields()
        self.new_sites[: len(sites)] = sites

    # ------------------------------------------------------------------ step
    def step(self) -> dict[str, int]:
        """Advance one step (DESIGN §4 order); return the step's event counts."""
        self.counters.fill(0)
        sp = step_params(self.mp, at_step(self.cfg, self.state.step))
        self.set_params(step=self.state.step, p_pdl1_pass=sp.p_pdl1_pass, p_exhaust=sp.p_exhaust,
                        p_chemo_tumour=sp.p_chemo_tumour, p_chemo_tcell=sp.p_chemo_tcell, recruit=sp.recruit)
        immune = self.mp.immune_on
        if immune:
            chemokine.run_step(self)
            tcell.recruit(self, sp)
            tcell.kill(self)
        tumour.death(self)
        events = tumour.divide(self)
        if immune:
            tcell.migrate(self)
            tcell.death(self)
        c = self.device.to_host(self.counters)
        events.update({name: int(c[idx]) for name, idx in COUNTERS.items()})
        self.state.step += 1
        return events

    def host_state(self) -> State:
        return self.state.map(self.device.to_host)

    def bytes_per_site(self) -> float:
        """Persistent per-site device memory (state + scratch) per site."""
        st = self.state
        arrays = [*st.sites.values(), *st.extra.values(), self.claim, self.chemokine_scratch]
        return sum(a.nbytes for a in arrays) / self.mp.n_sites
