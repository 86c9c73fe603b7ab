"""The state observables on the NumPy reference (:data:`gpusim.observables.STATE`):
the twin of the device reductions in ``kernels/observe.cu``, integer sums
(DESIGN §3 rule 6), ratios taken on the host in float64."""

from __future__ import annotations

import numpy as np

from ..lattice import coordinates, full_shape
from ..state import CLONE_HLA, CLONE_PDL1
from .tcell import can_kill


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
    (kernels/observe.cu, the twin of this class).

    >>> from gpusim.config import Config
    >>> from gpusim.state import initial_state
    >>> cfg = Config.model_validate({"lattice": {"shape": [9, 9]}, "tumour": {"initial_radius_cells": 1}})
    >>> Observer(cfg, np)(initial_state(cfg))["tumour_cells"]
    5
    """

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
