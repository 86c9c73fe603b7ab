"""The device state of a batch on the kernel engine: every run's state
arrays, clone columns and scratch (as the components declare them,
:mod:`gpusim.components`), their growth, and the ``Fields`` records
(pointers to each run's rows) that kernels read.

Every per-site array is one ``(B, n)`` array and every clone column one
``(B, capacity)`` array; row ``b`` is run ``b``.

>>> from gpusim.config import Config
>>> from gpusim.engine.device import CpuDevice
>>> arrays = DeviceArrays(CpuDevice(), [Config.model_validate({"lattice": {"shape": [8, 8]}})] * 2)
>>> arrays.sites["clone"].shape, arrays.claim.shape
((2, 64), (2, 64))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import abi, components
from ..config import Config
from ..params import model_params
from ..state import CLONE_COLUMNS, State, clone_capacity

ALL_ONES = 0xFF  # claim[] between phases: every byte of every entry (NO_BID)


class DeviceArrays:
    """State, clone table and scratch of B runs of one array shape on ``device``.

    Every array starts zero: the initial_sites kernel (or a loaded state)
    writes the tumour and T-cell layers; a new component's layer starts
    empty.
    Scratch arrays are attributes named as the components name them
    (``claim``, ``chemokine_scratch``, ...)."""

    def __init__(self, device, cfgs: list[Config]):
        self.device = device
        self.xp = xp = device.xp
        cfg, mp = cfgs[0], model_params(cfgs[0])
        self.n_runs = B = len(cfgs)
        self.n_sites, self.n_field = mp.n_sites, mp.n_field
        self.steps = np.zeros(B, dtype=np.int64)
        self.n_clones = np.full(B, 2, dtype=np.int64)
        self.sites = {k: xp.zeros((B, mp.n_sites), dtype=dt) for k, dt in components.site_arrays(cfg).items()}
        self.extra = {k: xp.zeros((B, mp.n_field), dtype=dt) for k, dt in components.field_arrays(cfg).items()}
        self.clones = {k: xp.zeros((B, 16), dtype=dt) for k, dt in CLONE_COLUMNS.items()}
        self.scratch = {k: xp.zeros((B, components.scratch_width(size, mp.n_sites, mp.n_field)), dtype=dt)
                        for k, (dt, size) in components.scratch(cfg).items()}
        per_site = [k for k, (_, size) in components.scratch(cfg).items() if size in ("sites", "field")]
        # Persistent bytes: these arrays keep their sizes (restore swaps in copies).
        self._nbytes = sum(a.nbytes for a in [*self.sites.values(), *self.extra.values(),
                                              *(self.scratch[k] for k in per_site)])
        self.counters = xp.zeros((B, abi.constants()["N_COUNTERS"]), dtype=xp.uint64)
        self.fields = np.zeros(B, dtype=abi.struct_dtype("Fields"))
        self.fields_dirty = True
        #: Fields pointer arrays -> the site arrays they point at (engine/tiles.py: occupancy).
        self.pointer_lists: dict[str, tuple[str, ...]] = {}

    def __getattr__(self, name: str):
        scratch = self.__dict__.get("scratch", {})
        if name in scratch:
            return scratch[name]
        raise AttributeError(name)

    def load(self, b: int, state: State) -> None:
        """Copy a host state into run ``b``'s rows."""
        self.ensure_clone_capacity(len(next(iter(state.clones.values()))))
        for part in ("sites", "extra"):
            for k, v in getattr(state, part).items():
                self.device.upload(getattr(self, part)[k][b], np.asarray(v))
        for k, v in state.clones.items():
            row = np.zeros(self.clones[k].shape[1], dtype=self.clones[k].dtype)
            row[: len(v)] = v
            self.device.upload(self.clones[k][b], row)
        self.steps[b], self.n_clones[b] = state.step, state.n_clones

    # ----------------------------------------------------------- records
    def row_arrays(self, b: int) -> dict[str, Any]:
        """Run ``b``'s row of every array, by its ``Fields`` name."""
        arrays = {k: v[b] for k, v in self.sites.items()}
        arrays.update({f"clone_{k}": v[b] for k, v in self.clones.items()})
        arrays.update({k: v[b] for k, v in self.extra.items()})
        arrays.update({k: v[b] for k, v in self.scratch.items()}, counters=self.counters[b])
        arrays.update({k: [self.sites[n][b] for n in names] for k, names in self.pointer_lists.items()})
        # A field's index is its place in components.FIELDS; a field the run
        # does not hold gets a null pointer (its phase does not run).
        held = [c if components.field_value(c) in self.extra else None for c in components.FIELDS]
        arrays["field_value"] = [self.extra[components.field_value(c)][b] if c else None for c in held]
        for part, suffix in (("field_scratch", "_scratch"), ("field_fixed", "_fixed")):
            arrays[part] = [self.scratch[c.name + suffix][b] if c and c.name + suffix in self.scratch else None
                            for c in held]
        arrays["field_counts"] = [self.extra[c.diffusing.counts[0]][b] if c and c.diffusing.counts else None
                                  for c in held]
        return arrays

    def refresh_fields(self) -> None:
        """Rebuild every run's Fields pointers (after any array is reallocated)."""
        for b in range(self.n_runs):
            self.fields[b] = self.device.fields_record(self.row_arrays(b))[0]
        self.fields_dirty = True

    # ------------------------------------------------------------ growth
    def ensure_clone_capacity(self, needed: int) -> None:
        """Clone columns with room for ``needed`` rows in every run (the
        state's doubling rule; contents kept by device copies, row by row)."""
        cap = self.clones["population"].shape[1]
        new_cap = clone_capacity(cap, needed)
        if new_cap == cap:
            return
        for name, col in self.clones.items():
            grown = self.xp.zeros((self.n_runs, new_cap), dtype=col.dtype)
            for b in range(self.n_runs):
                self.device.copy(grown[b, :cap], col[b])
            self.clones[name] = grown
        self.refresh_fields()

    def ensure_width(self, name: str, width: int) -> None:
        """Room for ``width`` entries per run in scratch ``name`` (doubling)."""
        buf = self.scratch[name]
        if width > buf.shape[1]:
            self.scratch[name] = self.xp.zeros((self.n_runs, max(2 * buf.shape[1], width)), dtype=buf.dtype)
            self.refresh_fields()

    # ------------------------------------------------------------ access
    def run_state(self, b: int) -> State:
        """Run ``b``'s state as views of the device arrays."""
        return State(step=int(self.steps[b]), n_clones=int(self.n_clones[b]),
                     sites={k: v[b] for k, v in self.sites.items()},
                     clones={k: v[b] for k, v in self.clones.items()},
                     extra={k: v[b] for k, v in self.extra.items()})

    def snapshot(self) -> dict:
        """Copies (on the device) of every run's state arrays and counts."""
        copy = {part: {k: self._copy(v) for k, v in getattr(self, part).items()} for part in ("sites", "clones", "extra")}
        copy["n_clones"] = self.n_clones.copy()
        return copy

    def _copy(self, a):
        dst = self.xp.empty_like(a)
        self.device.copy(dst, a)  # a memcpy on the GPU (no CuPy kernel to compile)
        return dst

    def restore(self, snap: dict) -> None:
        """Every run back at a snapshot, scratch as a step expects it."""
        for part in ("sites", "clones", "extra"):
            setattr(self, part, snap[part])
        self.n_clones = snap["n_clones"]
        self.device.fill_bytes(self.claim, ALL_ONES)  # a move abandoned between propose and commit leaves bids
        self.device.fill_bytes(self.counters, 0)
        self.refresh_fields()

    def nbytes(self) -> int:
        """Persistent device memory of every run (state + per-site and per-field scratch)."""
        return self._nbytes
