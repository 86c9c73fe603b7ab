"""Observables recorded every step: the step's event counts and integer
reductions of the state (DESIGN §3 rule 6: integer sums, never float
atomics; the floats -- mean_recognition, tmb, neoantigen_load -- are
ratios of two integer sums taken on the host in float64).

Each name maps to (dtype, unit, description); the run file stores them as
``/observables/<name>/{step,time,value}``.
"""

from __future__ import annotations

import numpy as np

from . import components

#: Counted by the backends during the step (0 at step 0), and functions of
#: the state after the step: each component declares its own (gpusim.components).
EVENTS = components.EVENTS
STATE = components.STATE

OBSERVABLES: dict[str, tuple[type, str, str]] = {**STATE, **EVENTS}


def scalar(name: str, value) -> int | float:
    """One run's value of observable ``name`` as a Python number of its
    declared kind (float for the float64 ratios, int for the counts).

    >>> scalar("tumour_cells", np.int64(7)), scalar("tmb", np.float64(0.5))
    (7, 0.5)
    """
    return float(value) if OBSERVABLES[name][0] is np.float64 else int(value)


def _of(cfg, part: str) -> dict[str, tuple[type, str, str]]:
    return {k: v for c in components.active(cfg) for k, v in getattr(c, part).items()}


def events_for(cfg) -> dict[str, tuple[type, str, str]]:
    """The events a run of ``cfg`` counts: those of its components (a
    component a config does not switch on adds none, so its run files stay
    as they were)."""
    return _of(cfg, "events")


def state_for(cfg) -> dict[str, tuple[type, str, str]]:
    """The state observables of a run of ``cfg`` (see :func:`events_for`)."""
    return _of(cfg, "observables")


def observables_for(cfg) -> dict[str, tuple[type, str, str]]:
    """What a run file of ``cfg`` records every step, in OBSERVABLES order.

    A component a config leaves off (the microenvironment's, by default)
    adds no series:

    >>> from gpusim.config import Config
    >>> "tregs" in OBSERVABLES, "tregs" in observables_for(Config())
    (True, False)
    >>> "tregs" in observables_for(Config.model_validate({"tregs": {"enabled": True}}))
    True
    """
    return {**state_for(cfg), **events_for(cfg)}


# The NumPy twin of the device reductions (kernels/observe.cu) is
# gpusim.reference.observe.Observer.
