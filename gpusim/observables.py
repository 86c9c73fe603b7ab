"""Observables recorded every step: the step's event counts and integer
reductions of the state (DESIGN §3 rule 6: integer sums, never float
atomics; the floats -- mean_recognition, tmb, neoantigen_load -- are
ratios of two integer sums taken on the host in float64).

Each name maps to (dtype, unit, description); the run file stores them as
``/observables/<name>/{step,time,value}``.
"""

from __future__ import annotations

from . import components

#: Counted by the backends during the step (0 at step 0), and functions of
#: the state after the step: each component declares its own (gpusim.components).
EVENTS = components.EVENTS
STATE = components.STATE

OBSERVABLES: dict[str, tuple[type, str, str]] = {**STATE, **EVENTS}

# The NumPy twin of the device reductions (kernels/observe.cu) is
# gpusim.reference.observe.Observer.
