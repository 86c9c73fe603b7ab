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
from ..params import model_params
from ..state import State, grow_clone_table
from . import abi, tumour

COUNTERS = {"divisions": abi.constants()["COUNTER_DIVISIONS"], "deaths": abi.constants()["COUNTER_DEATHS"]}


class KernelBackend:
    """Runs the kernels of ``kernels/`` on a :mod:`~gpusim.engine.device`."""

    def __init__(self, device, cfg: Config, state: State):
        self.device = device
        self.name = device.name
        self.xp = device.xp
        self.mp = model_params(cfg)
        xp = self.xp
        self.state = state.map(xp.asarray)
        n = self.mp.n_sites
        # Scratch: claim bids for two-phase moves (also marks new clones).
        self.claim = xp.full(n, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=xp.uint64)
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
                     "p_mut_neoantigen", "p_mut_pdl1", "p_mut_hla"):
            P[name] = getattr(mp, name)
        P["immunogenicity"][0] = mp.immunogenicity
        return P

    def refresh_fields(self) -> None:
        """Rebuild the Fields pointer block (after any array is reallocated)."""
        st = self.state
        arrays = dict(st.sites)
        arrays.update({f"clone_{k}": v for k, v in st.clones.items()})
        arrays.update(claim=self.claim, new_sites=self.new_sites, counters=self.counters)
        self._fields_buf = self.device.fields_buffer(arrays)

    def set_params(self, **values) -> None:
        for k, v in values.items():
            self.params[k] = v
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
        """Advance one step; return the step's event counts."""
        self.counters.fill(0)
        self.set_params(step=self.state.step)
        events = tumour.run_step(self)
        c = self.device.to_host(self.counters)
        events.update({name: int(c[idx]) for name, idx in COUNTERS.items()})
        self.state.step += 1
        return events

    def host_state(self) -> State:
        return self.state.map(self.device.to_host)

    def bytes_per_site(self) -> float:
        """Persistent per-site device memory (state + scratch) per site."""
        per_site = sum(a.nbytes for a in self.state.sites.values()) + self.claim.nbytes
        return per_site / self.mp.n_sites
