"""The numpy backend: one step = the model's phases, each a NumPy function.

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
from ..observables import Observer
from ..params import StepParams, model_params
from ..state import FIELD_ARRAYS, SITE_ARRAYS, State
from ..step import Backend
from . import chemokine, tcell, tumour
from .field import stencil_neighbours


class ReferenceBackend(Backend):
    """The rules as NumPy functions on host arrays (:mod:`gpusim.reference`)."""

    name = "numpy"
    xp = np

    def __init__(self, cfg: Config, state: State):
        self.cfg = cfg
        self.mp = model_params(cfg)
        self.state = state.map(np.array)  # own copy
        self._stencil = stencil_neighbours(self.mp)
        self._observer = Observer(cfg, np)

    def observe(self) -> dict:
        """The state observables (gpusim/observables.py STATE) of the current state."""
        return self._observer(self.state)

    # Backend.step runs these in the order of gpusim.step.PHASES.
    def chemokine(self, sp: StepParams, events: dict) -> None:
        chemokine.run_step(self.state, self.mp, self._stencil)

    def tcell_recruit(self, sp: StepParams, events: dict) -> None:
        tcell.recruit(self.state, self.mp, sp, events)

    def tcell_kill(self, sp: StepParams, events: dict) -> None:
        tcell.kill(self.state, self.mp, sp, events)

    def tumour_death(self, sp: StepParams, events: dict) -> None:
        tumour.death(self.state, self.mp, sp, events)

    def tumour_divide(self, sp: StepParams, events: dict) -> None:
        tumour.divide(self.state, self.mp, events)

    def tcell_migrate(self, sp: StepParams, events: dict) -> None:
        tcell.migrate(self.state, self.mp)

    def tcell_death(self, sp: StepParams, events: dict) -> None:
        tcell.death(self.state, self.mp, sp, events)

    def host_state(self) -> State:
        return self.state.map(np.array)

    def bytes_per_site(self) -> float:
        """Persistent per-site memory (temporaries of a step not counted)."""
        per_site = sum(dt.itemsize for dt in SITE_ARRAYS.values())
        per_field_cell = sum(dt.itemsize for dt in FIELD_ARRAYS.values())
        return per_site + per_field_cell * self.mp.n_field / self.mp.n_sites

    def describe(self) -> str:
        return f"numpy {np.__version__} (reference)"
