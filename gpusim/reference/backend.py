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
from ..observables import EVENTS, Observer
from ..params import model_params, step_params
from ..state import FIELD_ARRAYS, SITE_ARRAYS, State
from ..therapy import at_step
from . import chemokine, tcell, tumour
from .field import stencil_neighbours


class ReferenceBackend:
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

    def step(self) -> dict[str, int]:
        """Advance one step in the order of DESIGN §4; return its event counts."""
        st, mp = self.state, self.mp
        sp = step_params(mp, at_step(self.cfg, st.step))
        events = dict.fromkeys(EVENTS, 0)  # the immune phases may not run
        if mp.immune_on:
            chemokine.run_step(st, mp, self._stencil)
            tcell.recruit(st, mp, sp, events)
            tcell.kill(st, mp, sp, events)
        tumour.death(st, mp, sp, events)
        tumour.divide(st, mp, events)
        if mp.immune_on:
            tcell.migrate(st, mp)
            tcell.death(st, mp, sp, events)
        st.step += 1
        return events

    def host_state(self) -> State:
        return self.state.map(np.array)

    def bytes_per_site(self) -> float:
        """Persistent per-site memory (temporaries of a step not counted)."""
        per_site = sum(dt.itemsize for dt in SITE_ARRAYS.values())
        per_field_cell = sum(dt.itemsize for dt in FIELD_ARRAYS.values())
        return per_site + per_field_cell * self.mp.n_field / self.mp.n_sites

    def describe(self) -> str:
        return f"numpy {np.__version__} (reference)"
