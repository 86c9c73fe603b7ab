"""The simulation state: struct-of-arrays on the lattice plus the clone table.

The same layout on every backend (NumPy arrays on the host, CuPy arrays on a
GPU), so run files, checkpoints and byte-identity tests compare like with
like.  Per-site arrays are flat, in site-index order (i = x + nx*(y + ny*z)).

>>> from gpusim.config import Config
>>> st = initial_state(Config.model_validate({"lattice": {"shape": [9, 9]},
...                                            "tumour": {"initial_radius_cells": 1}}))
>>> int((st.sites["clone"] == 1).sum()), st.n_clones
(5, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .abi import constants
from .components import field_arrays, site_arrays
from .config import Config
from .lattice import ball_mask
from .params import model_params, threshold
from .rng import draw

# The per-site and per-field-cell arrays of a run are its components'
# (gpusim.components.site_arrays / field_arrays).

#: Columns of the clone table.  Row 0 stands for "no clone"; row 1 is the founder.
CLONE_COLUMNS: dict[str, np.dtype] = {
    "parent": np.dtype(np.uint32),
    "birth_step": np.dtype(np.uint32),
    "mutations": np.dtype(np.uint32),  # new at founding (k of the founding daughter)
    "mutations_total": np.dtype(np.uint32),  # acquired since the founder (cumulative)
    "neoantigens": np.dtype(np.uint32),  # acquired neoantigens (cumulative)
    "recognition": np.dtype(np.uint32),  # threshold: r = value / 2**32
    "flags": np.dtype(np.uint8),  # CLONE_PDL1 | CLONE_HLA
    "population": np.dtype(np.uint32),  # live cells
}

# The bits of the per-site bytes and clone flags, as kernels/abi.cuh declares them.
_C = constants()
CELL_STEM = _C["CELL_STEM"]
CELL_KILLED = _C["CELL_KILLED"]
CELL_DIVISIONS_MASK = _C["CELL_DIVISIONS_MASK"]
CLONE_PDL1 = _C["CLONE_PDL1"]
CLONE_HLA = _C["CLONE_HLA"]
TCELL_PRESENT = _C["TCELL_PRESENT"]
TCELL_KILLS_MASK = _C["TCELL_KILLS_MASK"]
TCELL_EXHAUSTION_SHIFT = _C["TCELL_EXHAUSTION_SHIFT"]
TCELL_EXHAUSTION_MAX = _C["TCELL_EXHAUSTION_MAX"]
PHASE_VESSEL = _C["PHASE_VESSEL"]
PHASE_INITIAL_TCELL = _C["PHASE_INITIAL_TCELL"]


@dataclass
class State:
    """Model state at the start of step ``step``.

    ``clones`` columns may be longer than ``n_clones`` (capacity grows by
    doubling); rows at and beyond ``n_clones`` are unused.  ``extra`` holds
    the coarse field-grid arrays (gpusim.components.field_arrays), flat in field order.
    """

    step: int
    n_clones: int
    sites: dict[str, Any]
    clones: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def clone_table(self) -> dict[str, Any]:
        """Used rows of every clone column."""
        return {k: v[: self.n_clones] for k, v in self.clones.items()}

    def map(self, fn) -> "State":
        """A copy with ``fn`` applied to every array (e.g. host <-> device)."""
        return State(
            step=self.step,
            n_clones=self.n_clones,
            sites={k: fn(v) for k, v in self.sites.items()},
            clones={k: fn(v) for k, v in self.clones.items()},
            extra={k: fn(v) if hasattr(v, "shape") else v for k, v in self.extra.items()},
        )


def clone_capacity(cap: int, needed: int) -> int:
    """The clone table's capacity for ``needed`` rows: ``cap`` if enough,
    else doubled (from at least 16) until it is.

    >>> clone_capacity(16, 10), clone_capacity(16, 17), clone_capacity(16, 100)
    (16, 32, 128)
    """
    if needed <= cap:
        return cap
    new_cap = max(cap, 16)
    while new_cap < needed:
        new_cap *= 2
    return new_cap


def grow_clone_table(clones: dict[str, Any], needed: int, xp, copy=None) -> dict[str, Any]:
    """Columns with capacity >= ``needed`` (doubling), contents kept
    (``copy(dst, src)``, default slice assignment)."""
    cap = len(next(iter(clones.values())))
    new_cap = clone_capacity(cap, needed)
    if new_cap == cap:
        return clones
    grown = {}
    for name, col in clones.items():
        g = xp.zeros(new_cap, dtype=col.dtype)
        if copy is None:
            g[:cap] = col
        else:
            copy(g[:cap], col)
        grown[name] = g
    return grown


@dataclass(frozen=True)
class InitialParams:
    """What the state at step 0 is made of, in kernel units.  The NumPy twin
    :func:`initial_state` and the device build (kernels/initial.cu, whose
    Params fields of the same names the host fills from this) read the same
    values."""

    init_radius2: int  # founders: squared distance to the centre site <= this
    init_cell: int  # the founders' cell byte
    p_vessel: int  # vessel threshold (0 without immunity)
    init_tcells: int  # T cells at the lowest placement priorities (0 without immunity)
    founder_recognition: int
    founder_flags: int

    @property
    def init_tcell_bids(self) -> int:
        return int(self.init_tcells > 0)


def initial_params(cfg: Config) -> InitialParams:
    t, im = cfg.tumour, cfg.immune
    r = t.initial_radius_cells
    return InitialParams(
        init_radius2=math.floor(r * r),  # integer d2 <= r*r exactly when d2 <= floor(r*r)
        init_cell=CELL_STEM if t.initial_cells_stem else t.max_divisions,
        p_vessel=threshold(im.vessel_density) if im.enabled else 0,
        init_tcells=im.initial_tcells if im.enabled else 0,
        founder_recognition=threshold(t.initial_recognition),
        founder_flags=(CLONE_PDL1 if t.initial_pdl1 else 0) | (CLONE_HLA if t.initial_hla_loss else 0),
    )


def initial_clone_table(ip: InitialParams, founders: int) -> dict[str, np.ndarray]:
    """The clone table at step 0: row 0 "no clone", row 1 the founders."""
    clones = {name: np.zeros(16, dtype=dt) for name, dt in CLONE_COLUMNS.items()}
    clones["recognition"][1] = ip.founder_recognition
    clones["population"][1] = founders
    clones["flags"][1] = ip.founder_flags
    return clones


def initial_state(cfg: Config) -> State:
    """The state at step 0, on the host (the NumPy twin of kernels/initial.cu):
    a ball of founder cells (clone 1) at the lattice centre, vessel sites
    drawn with Philox, optional initial T cells at the sites with the lowest
    Philox priorities (ties by site index), no chemokine."""
    mp = model_params(cfg)
    ip = initial_params(cfg)
    n = cfg.lattice.n_sites
    sites = {name: np.zeros(n, dtype=dt) for name, dt in site_arrays(cfg).items()}
    founders = ball_mask(cfg.lattice.shape, cfg.tumour.initial_radius_cells)
    sites["clone"][founders] = 1
    sites["cell"][founders] = ip.init_cell
    clones = initial_clone_table(ip, int(founders.sum()))
    if ip.p_vessel:
        for lo, words in _site_words(n, PHASE_VESSEL, mp.key):
            sites["vessel"][lo : lo + len(words)] = words < ip.p_vessel
    if ip.init_tcells:
        priority = np.concatenate([w for _, w in _site_words(n, PHASE_INITIAL_TCELL, mp.key)])
        chosen = np.argsort(priority, kind="stable")[: ip.init_tcells]
        sites["tcell"][chosen] = TCELL_PRESENT | cfg.immune.kills_per_tcell
    extra = {name: np.zeros(mp.n_field, dtype=dt) for name, dt in field_arrays(cfg).items()}
    return State(step=0, n_clones=2, sites=sites, clones=clones, extra=extra)


def _site_words(n: int, phase: int, key, chunk: int = 1 << 22):
    """First Philox word of (site, 0, phase, 0) for every site, in chunks
    (bounded memory on huge lattices)."""
    for lo in range(0, n, chunk):
        yield lo, draw(np.arange(lo, min(n, lo + chunk)), 0, phase, 0, key)[:, 0]

