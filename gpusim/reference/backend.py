"""The numpy backend: one step = the model's phases, each a NumPy function.

>>> from gpusim.config import Config
>>> from gpusim.state import initial_state
>>> cfg = Config.model_validate({"lattice": {"shape": [16, 16]}})
>>> be = ReferenceBackend(cfg, initial_state(cfg))
>>> sorted(be.step())
['deaths', 'divisions', 'new_clones']
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..params import model_params
from ..state import SITE_ARRAYS, State
from . import tumour


class ReferenceBackend:
    name = "numpy"
    xp = np

    def __init__(self, cfg: Config, state: State):
        self.mp = model_params(cfg)
        self.state = state.map(np.array)  # own copy

    def step(self) -> dict[str, int]:
        events: dict[str, int] = {}
        tumour.death(self.state, self.mp, events)
        tumour.divide(self.state, self.mp, events)
        self.state.step += 1
        return events

    def host_state(self) -> State:
        return self.state.map(np.array)

    def bytes_per_site(self) -> float:
        """Persistent per-site memory (temporaries of a step not counted)."""
        return float(sum(dt.itemsize for dt in SITE_ARRAYS.values()))

    def describe(self) -> str:
        return f"numpy {np.__version__} (reference)"
