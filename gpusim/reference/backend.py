"""The numpy backend: one step = the model's phases, each a NumPy function.

The reference stays one run at a time (it is the oracle the batched
kernels are tested against); :class:`ReferenceBatch` steps a list of them
behind the batch interface of :class:`~gpusim.engine.backend.KernelBackend`.

>>> from gpusim.config import Config
>>> from gpusim.state import initial_state
>>> cfg = Config.model_validate({"lattice": {"shape": [16, 16]}})
>>> be = ReferenceBackend(cfg, initial_state(cfg))
>>> events = be.step()
>>> events["divisions"] >= 0 and events["kills"] >= 0
True
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..observables import state_for
from ..params import model_params
from ..signals import StepAbandoned
from ..components import field_arrays, site_arrays
from ..state import State
from .observe import Observer
from ..step import Backend, BatchBackend, guards
from .field import stencil_neighbours


class ReferenceBackend(Backend):
    """The rules as NumPy functions on host arrays (:mod:`gpusim.reference`)."""

    name = "numpy"
    side = "reference"  # gpusim.reference.phases
    xp = np

    def __init__(self, cfg: Config, state: State):
        self.cfg = cfg
        self.mp = model_params(cfg)
        self.state = state.map(np.array)  # own copy
        self.stencil = stencil_neighbours(self.mp)
        self._observer = Observer(cfg, np)

    def observe(self) -> dict:
        """The state observables (gpusim/observables.py STATE) of the current state."""
        return self._observer(self.state)

    def host_state(self) -> State:
        return self.state.map(np.array)

    def bytes_per_site(self) -> float:
        """Persistent per-site memory (temporaries of a step not counted)."""
        per_site = sum(dt.itemsize for dt in site_arrays(self.cfg).values())
        per_field_cell = sum(dt.itemsize for dt in field_arrays(self.cfg).values())
        return per_site + per_field_cell * self.mp.n_field / self.mp.n_sites

    def describe(self) -> str:
        return f"numpy {np.__version__} (reference)"


class ReferenceBatch(BatchBackend):
    """B reference runs behind the batch interface (``step``, ``observe``,
    ``retire``, ``run_state``, ``host_state``, ``steps``, ``active``).

    >>> from gpusim.config import Config
    >>> from gpusim.state import initial_state
    >>> cfg = Config.model_validate({"lattice": {"shape": [16, 16]}})
    >>> be = ReferenceBatch([cfg], [initial_state(cfg)])
    >>> be.step()["divisions"].shape, int(be.steps[0])
    ((1,), 1)
    """

    name = "numpy"
    xp = np

    def __init__(self, cfgs: list[Config], states: list[State | None]):
        from ..state import initial_state

        self.cfgs = list(cfgs)
        self.runs = [ReferenceBackend(c, s if s is not None else initial_state(c)) for c, s in zip(cfgs, states)]
        self.mp = self.runs[0].mp
        self.active = np.arange(len(self.runs))

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    @property
    def steps(self) -> np.ndarray:
        return np.array([r.state.step for r in self.runs], dtype=np.int64)

    def step(self) -> dict[str, np.ndarray]:
        # All runs or none: if a stop abandons one run's guarded step, the
        # runs stepped before it are put back too (gpusim.signals).
        runs = [self.runs[b] for b in self.active]
        lasts = [r.last_step_s for r in runs]
        slowest = None if None in lasts else max(lasts, default=0.0)
        undo = [r.snapshot() for r in runs] \
            if len(runs) > 1 and guards(slowest, sum(r.state_bytes() for r in runs)) else None
        try:
            events = [r.step() for r in runs]
        except StepAbandoned:
            for r, snap in zip(runs, undo or []):
                r.restore(snap)
            raise
        names = events[0].keys() if events else ()
        return {k: np.array([e[k] for e in events], dtype=np.int64) for k in names}

    def observe(self) -> dict[str, np.ndarray]:
        per_run = [self.runs[b].observe() for b in self.active]
        return {k: np.array([o[k] for o in per_run]) for k in state_for(self.cfgs[0])}

    def retire(self, rows) -> None:
        self.active = np.setdiff1d(self.active, rows)

    def run_state(self, b: int) -> State:
        return self.runs[b].state

    def host_state(self, b: int = 0) -> State:
        return self.runs[b].host_state()

    def bytes_per_site(self) -> float:
        return self.runs[0].bytes_per_site()

    def synchronize(self) -> None:
        """Nothing queued: NumPy returns when the work is done."""

    def copy_bytes_per_s(self, nbytes: int) -> float:
        return self.runs[0].copy_bytes_per_s(nbytes)

    def describe(self) -> str:
        return self.runs[0].describe()
