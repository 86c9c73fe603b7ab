"""The Simulation: owns the config, the state (on a backend) and the run file.

>>> from gpusim import Config, Simulation
>>> cfg = Config.model_validate({"lattice": {"shape": [24, 24]}, "simulation": {"steps": 10}})
>>> sim = Simulation(cfg, backend="numpy")
>>> obs = sim.run()
>>> sim.step_count, obs["tumour_cells"] == int((sim.state().sites["clone"] > 0).sum())
(10, True)
"""

from __future__ import annotations

import time
from pathlib import Path

from .backends import make_backend
from .config import Config
from .observables import EVENTS, Observer
from .progress import Progress
from .state import State, initial_state


class Simulation:
    """One run of the model on one backend (``auto``, ``cuda``, ``cpu``, ``numpy``)."""

    def __init__(self, cfg: Config, backend: str = "auto", state: State | None = None):
        self.cfg = cfg
        self.backend = make_backend(backend, cfg, state if state is not None else initial_state(cfg))
        self._observer = Observer(cfg, self.backend.xp)
        self.last_observables: dict[str, int] = self._observables({})

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def step_count(self) -> int:
        return self.backend.state.step

    def state(self) -> State:
        """A host (NumPy) copy of the current state."""
        return self.backend.host_state()

    def _observables(self, events: dict[str, int]) -> dict[str, int]:
        obs = dict.fromkeys(EVENTS, 0)
        obs.update(events)
        obs.update(self._observer(self.backend.state))
        return obs

    def step(self) -> dict[str, int]:
        """Advance one step and return its observables."""
        self.last_observables = self._observables(self.backend.step())
        return self.last_observables

    def run(self, steps: int | None = None, writer=None, progress: bool = False) -> dict[str, int]:
        """Run ``steps`` steps (default: the config's), streaming to ``writer``."""
        steps = self.cfg.simulation.steps if steps is None else steps
        every = self.cfg.output.frame_every_steps
        if writer is not None and self.step_count == 0:
            writer.record(0, self.last_observables)
            if every:
                writer.frame(self.state())
        with Progress(steps, "gpusim run", enabled=progress) as bar:
            for _ in range(steps):
                obs = self.step()
                if writer is not None:
                    writer.record(self.step_count, obs)
                    if every and self.step_count % every == 0:
                        writer.frame(self.state())
                bar.update(1, tumour_cells=obs["tumour_cells"])
        return self.last_observables


def run_to_file(cfg: Config, out: str | Path, backend: str = "auto", progress: bool = False) -> dict:
    """Run ``cfg`` from the start and write the run file ``out``."""
    from .io.runfile import RunWriter

    sim = Simulation(cfg, backend=backend)
    writer = RunWriter(out, cfg, backend=sim.backend_name)
    t0 = time.perf_counter()
    try:
        obs = sim.run(writer=writer, progress=progress)
    except BaseException as err:
        writer.fail(f"{err.__class__.__name__}: {err}")
        raise
    final = sim.state()
    every = cfg.output.frame_every_steps
    if every and final.step % every != 0:
        writer.frame(final)  # the last state is always a frame
    writer.flush()
    result = writer.classify()
    writer.close(final, "complete", runtime_s=time.perf_counter() - t0, steps=final.step, **result)
    return obs
