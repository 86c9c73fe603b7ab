"""Observables recorded every step: integer reductions of the state and the
step's event counters (DESIGN §3 rule 6: integer sums, never float atomics).

Each name maps to (dtype, unit, description); the run file stores them as
``/observables/<name>/{step,time,value}``.
"""

from __future__ import annotations

import numpy as np

OBSERVABLES: dict[str, tuple[type, str, str]] = {
    "tumour_cells": (np.int64, "cells", "live tumour cells after the step"),
    "divisions": (np.int64, "events", "tumour divisions in the step"),
    "deaths": (np.int64, "events", "tumour deaths in the step"),
    "new_clones": (np.int64, "clones", "clones founded in the step"),
    "live_clones": (np.int64, "clones", "clones with at least one live cell"),
}


def state_observables(xp, state) -> dict[str, int]:
    """The observables that are functions of the state alone."""
    pop = state.clones["population"][1 : state.n_clones]
    return {
        "tumour_cells": int(pop.sum(dtype=xp.uint64)),
        "live_clones": int(xp.count_nonzero(pop)),
    }
