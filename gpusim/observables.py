"""Observables recorded every step: the step's event counts and integer
reductions of the state (DESIGN §3 rule 6: integer sums, never float
atomics; the one float, mean_recognition, is a ratio of two integer sums
taken on the host in float64).

Each name maps to (dtype, unit, description); the run file stores them as
``/observables/<name>/{step,time,value}``.
"""

from __future__ import annotations

import numpy as np

from .lattice import coordinates, full_shape
from .reference.tcell import can_kill
from .state import CLONE_HLA, CLONE_PDL1

#: Counted by the backends during the step (0 at step 0).
EVENTS: dict[str, tuple[type, str, str]] = {
    "divisions": (np.int64, "events", "tumour divisions in the step"),
    "deaths": (np.int64, "events", "tumour deaths in the step (all causes)"),
    "new_clones": (np.int64, "clones", "clones founded in the step"),
    "kills": (np.int64, "events", "tumour cells killed by T cells in the step"),
    "recruited": (np.int64, "cells", "T cells recruited at vessels in the step"),
    "expansions": (np.int64, "cells", "T cells born by expansion after a kill in the step"),
    "transferred": (np.int64, "cells", "T cells injected by adoptive transfer in the step"),
    "tcell_deaths": (np.int64, "events", "T-cell deaths in the step"),
}

#: Functions of the state after the step.
STATE: dict[str, tuple[type, str, str]] = {
    "tumour_cells": (np.int64, "cells", "live tumour cells"),
    "live_clones": (np.int64, "clones", "clones with at least one live cell"),
    "pdl1_cells": (np.int64, "cells", "tumour cells of PD-L1-high clones"),
    "hla_loss_cells": (np.int64, "cells", "tumour cells of clones that lost antigen presentation"),
    "mean_recognition": (np.float64, "probability", "mean recognition probability r over tumour cells"),
    "edge_cells": (np.int64, "cells", "tumour cells on the lattice boundary (closed boundary; 0 if periodic)"),
    "tcells": (np.int64, "cells", "T cells"),
    "tcells_exhausted": (np.int64, "cells", "T cells that can no longer kill (exhausted or out of kills)"),
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
    """Computes the STATE observables of a batch of runs on a backend's
    arrays (``xp``): site arrays ``(B, n)`` and clone columns ``(B, capacity)``
    (rows past a run's clone count hold zero population).  One reduction per
    observable covers every run; the results reach the host in one transfer.

    >>> import numpy as np
    >>> from gpusim.config import Config
    >>> from gpusim.state import initial_state
    >>> cfg = Config.model_validate({"lattice": {"shape": [9, 9]}, "tumour": {"initial_radius_cells": 1}})
    >>> st = initial_state(cfg)
    >>> obs = Observer([cfg], np)({k: v[None] for k, v in st.sites.items()}, {k: v[None] for k, v in st.clones.items()})
    >>> int(obs["tumour_cells"][0]), obs["tumour_cells"].dtype
    (5, dtype('int64'))
    """

    def __init__(self, cfgs, xp, to_host=np.asarray):
        self.xp = xp
        self.to_host = to_host
        self.edge = xp.asarray(edge_sites(cfgs[0]))  # same lattice for every run of a batch
        self.exhaustion_threshold = np.array([c.immune.exhaustion_threshold for c in cfgs], dtype=np.uint8)

    def __call__(self, sites: dict, clones: dict, rows=None) -> dict[str, np.ndarray]:
        """One array per STATE observable, over the runs (``rows`` of
        ``exhaustion_threshold``: the runs these arrays hold, default all)."""
        xp = self.xp
        u64 = xp.uint64
        pop = clones["population"][:, 1:].astype(u64)
        flags = clones["flags"][:, 1:]
        tc = sites["tcell"]
        present = tc != 0
        threshold = self.exhaustion_threshold if rows is None else self.exhaustion_threshold[rows]
        stuck = present & ~can_kill(tc, xp.asarray(threshold)[:, None])
        clone = sites["clone"]
        edge = (clone[:, self.edge] != 0).sum(axis=1, dtype=u64) if len(self.edge) else xp.zeros(len(clone), u64)
        sums = xp.stack([
            pop.sum(axis=1, dtype=u64),
            (pop != 0).sum(axis=1, dtype=u64),
            (pop * ((flags & CLONE_PDL1) != 0)).sum(axis=1, dtype=u64),
            (pop * ((flags & CLONE_HLA) != 0)).sum(axis=1, dtype=u64),
            (pop * clones["recognition"][:, 1:].astype(u64)).sum(axis=1, dtype=u64),
            edge,
            present.sum(axis=1, dtype=u64),
            stuck.sum(axis=1, dtype=u64),
        ])
        cells, live, pdl1, hla, recog, edge, tcells, exhausted = self.to_host(sums)  # one transfer
        return {
            "tumour_cells": cells.astype(np.int64),
            "live_clones": live.astype(np.int64),
            "pdl1_cells": pdl1.astype(np.int64),
            "hla_loss_cells": hla.astype(np.int64),
            "mean_recognition": mean_recognition(recog, cells),
            "edge_cells": edge.astype(np.int64),
            "tcells": tcells.astype(np.int64),
            "tcells_exhausted": exhausted.astype(np.int64),
        }


def mean_recognition(recog: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """recog / cells / 2**32 per run (0 without cells), rounded as Python's
    exact integer division rounds: float64 division where both sums are
    below 2**53 (exact operands, one rounding), Python ints elsewhere."""
    out = np.zeros(len(cells), dtype=np.float64)
    small = (recog < 2**53) & (cells > 0)
    out[small] = recog[small].astype(np.float64) / cells[small].astype(np.float64) / 2.0**32
    for b in np.flatnonzero((recog >= 2**53) & (cells > 0)):
        out[b] = int(recog[b]) / int(cells[b]) / 2.0**32
    return out
