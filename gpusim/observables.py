"""Observables recorded every step: the step's event counts and integer
reductions of the state (DESIGN §3 rule 6: integer sums, never float
atomics; the floats -- mean_recognition, tmb, neoantigen_load -- are
ratios of two integer sums taken on the host in float64).

Each name maps to (dtype, unit, description); the run file stores them as
``/observables/<name>/{step,time,value}``.
"""

from __future__ import annotations

import numpy as np

from .lattice import coordinates, full_shape
from .reference.tcell import can_kill
from .state import CLONE_HLA, CLONE_PDL1

def _counts(**entries: tuple[str, str]) -> dict[str, tuple[type, str, str]]:
    """int64 observables from name=(unit, description)."""
    return {name: (np.int64, unit, description) for name, (unit, description) in entries.items()}


#: Counted by the backends during the step (0 at step 0).
EVENTS: dict[str, tuple[type, str, str]] = _counts(
    divisions=("events", "tumour divisions in the step"),
    deaths=("events", "tumour deaths in the step (all causes)"),
    new_clones=("clones", "clones founded in the step"),
    kills=("events", "tumour cells killed by T cells in the step"),
    recruited=("cells", "T cells recruited at vessels in the step"),
    expansions=("cells", "T cells born by expansion after a kill in the step"),
    transferred=("cells", "T cells injected by adoptive transfer in the step"),
    tcell_deaths=("events", "T-cell deaths in the step"),
)

#: Functions of the state after the step.
STATE: dict[str, tuple[type, str, str]] = {
    **_counts(tumour_cells=("cells", "live tumour cells"),
              live_clones=("clones", "clones with at least one live cell"),
              pdl1_cells=("cells", "tumour cells of PD-L1-high clones"),
              hla_loss_cells=("cells", "tumour cells of clones that lost antigen presentation")),
    "mean_recognition": (np.float64, "probability", "mean recognition probability r over tumour cells"),
    "tmb": (np.float64, "mutations", "tumour mutational burden: mean acquired mutations per tumour cell"),
    "neoantigen_load": (np.float64, "neoantigens", "mean acquired neoantigens per tumour cell"),
    **_counts(edge_cells=("cells", "tumour cells on the lattice boundary (closed boundary; 0 if periodic)"),
              tcells=("cells", "T cells"),
              tcells_exhausted=("cells", "T cells that can no longer kill (exhausted or out of kills)")),
}

OBSERVABLES: dict[str, tuple[type, str, str]] = {**STATE, **EVENTS}


def edge_sites(cfg) -> np.ndarray:
    """Indices of the sites on a closed boundary (empty when periodic)."""
    if cfg.lattice.boundary == "periodic":
        return np.zeros(0, dtype=np.int64)
    x, y, z = coordinates(cfg.lattice.shape)
    nx, ny, nz = full_shape(cfg.lattice.shape)
    edge = (x == 0) | (x == nx - 1) | (y == 0) | (y == ny - 1)
    if cfg.lattice.dim == 3:
        edge |= (z == 0) | (z == nz - 1)
    return np.flatnonzero(edge)


class Observer:
    """Computes the STATE observables on a backend's arrays (``xp``): the
    NumPy reference's way; the kernel backends reduce them on the device
    (kernels/observe.cu, the twin of this class)."""

    def __init__(self, cfg, xp):
        self.xp = xp
        self.edge = xp.asarray(edge_sites(cfg))
        self.exhaustion_threshold = cfg.immune.exhaustion_threshold

    def __call__(self, state) -> dict:
        xp = self.xp
        t = state.clones
        n = state.n_clones
        pop = t["population"][1:n].astype(xp.uint64)
        flags = t["flags"][1:n]
        cells = int(pop.sum())
        recog, muts, neo = (int((pop * t[name][1:n].astype(xp.uint64)).sum())
                            for name in ("recognition", "mutations_total", "neoantigens"))
        tc = state.sites["tcell"]
        present = tc != 0
        stuck = present & ~can_kill(tc, self.exhaustion_threshold)
        return {
            "tumour_cells": cells,
            "live_clones": int(xp.count_nonzero(pop)),
            "pdl1_cells": int(pop[(flags & CLONE_PDL1) != 0].sum()),
            "hla_loss_cells": int(pop[(flags & CLONE_HLA) != 0].sum()),
            "mean_recognition": recog / cells / 2.0**32 if cells else 0.0,
            "tmb": muts / cells if cells else 0.0,
            "neoantigen_load": neo / cells if cells else 0.0,
            "edge_cells": int(xp.count_nonzero(state.sites["clone"][self.edge])) if len(self.edge) else 0,
            "tcells": int(xp.count_nonzero(present)),
            "tcells_exhausted": int(xp.count_nonzero(stuck)),
        }
