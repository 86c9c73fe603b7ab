"""The Simulation: owns the config, the state (on a backend) and the run file.

>>> from gpusim import Config, Simulation
>>> cfg = Config.model_validate({"lattice": {"shape": [24, 24]}, "simulation": {"steps": 10}})
>>> sim = Simulation(cfg, backend="numpy")
>>> obs = sim.run()
>>> sim.step_count, obs["tumour_cells"] == int((sim.state().sites["clone"] > 0).sum())
(10, True)
"""

from __future__ import annotations

from pathlib import Path

from .backends import make_backend
from .config import Config
from .errors import InputError, RunInterrupted
from .io.space import write_failure
from .observables import EVENTS, OBSERVABLES
from .progress import Progress
from .signals import StepAbandoned, StopOnSignal
from .state import State


class Simulation:
    """One run of the model on one backend (``auto``, ``cuda``, ``cpu``, ``numpy``)."""

    def __init__(self, cfg: Config, backend: str = "auto", state: State | None = None):
        self.cfg = cfg
        self.backend = make_backend(backend, cfg, state)
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

    def live_state(self) -> State:
        """The backend's own state (device arrays on cuda), for writers that
        read it before the next step: frames and checkpoints then stream to
        the file in bounded slabs instead of through a host copy of it all."""
        return self.backend.state

    def _observables(self, events: dict[str, int]) -> dict[str, int]:
        obs = dict.fromkeys(EVENTS, 0)
        obs.update(events)
        obs.update(self.backend.observe())
        return obs

    def step(self) -> dict[str, int]:
        """Advance one step and return its observables."""
        self.last_observables = self._observables(self.backend.step())
        return self.last_observables

    def run(self, steps: int | None = None, writer=None, progress: bool = False, stop=None) -> dict[str, int]:
        """Advance ``steps`` steps (default: up to the config's ``simulation.steps``),
        streaming to ``writer`` (a :class:`~gpusim.io.runfile.RunWriter`).

        ``stop``, if given, is polled after every step; when it returns true
        the run returns early (a signal asked the run to end).  A guarded
        step abandoned on a signal (:mod:`gpusim.signals`) ends the run too,
        at the state of the last complete step."""
        if steps is None:
            steps = max(0, self.cfg.simulation.steps - self.step_count)
        if writer is not None:
            writer.start(self.last_observables, self.live_state)
        with Progress(steps, "gpusim run", enabled=progress) as bar:
            for _ in range(steps):
                try:
                    obs = self.step()
                except StepAbandoned:  # the backend put back the last complete step's state
                    break
                if writer is not None:
                    writer.on_step(self.step_count, obs, self.live_state)
                bar.update(1, tumour_cells=obs["tumour_cells"])
                if stop is not None and stop():
                    break
        return self.last_observables


def run_to_file(cfg: Config, out: str | Path, backend: str = "auto", progress: bool = False) -> dict:
    """Run ``cfg`` from the start and write the run file ``out``.

    SIGTERM, SIGUSR1 and SIGINT end the run after the current step with a
    checkpoint and status ``interrupted`` (:class:`~gpusim.errors.RunInterrupted`)."""
    from .io.runfile import RunWriter

    sim = Simulation(cfg, backend=backend)
    return _write_run(sim, RunWriter(out, cfg, backend=sim.backend_name), progress)


def resume_run(path: str | Path, steps: int | None = None, backend: str = "auto",
               progress: bool = False) -> tuple[dict, int]:
    """Continue the run file ``path`` from its checkpoint; returns (final
    observables, the step it resumed from).

    ``steps=None`` finishes the configured steps of an unfinished run;
    ``steps=N`` runs N steps beyond the checkpoint (for a complete run: N more
    steps), and the stored config's ``simulation.steps`` becomes the new total.
    Every row and frame past the checkpoint is recomputed, so the result is
    byte-identical to a run made in one go."""
    from .backends import resolve
    from .config import apply_overrides
    from .io.checkpoint import read_checkpoint
    from .io.reader import open_for_writing, open_run_file, read_config, reading, require
    from .io.layout import LIBVER
    from .io.runfile import RunWriter

    path = Path(path)
    with reading(path), open_run_file(path) as f:
        cfg = read_config(f)
        status = str(f.attrs.get("status", "?"))
        groups = [f"observables/{name}" for name in OBSERVABLES] + [f"fields/{n}" for n in f.get("fields", {})]
        for group in groups:  # what the continued run truncates and appends to
            for part in ("step", "time", "value"):
                require(f, f"{group}/{part}")
        ckpt = read_checkpoint(f)
        if ckpt is None:
            raise InputError(f"{path}: has no checkpoint (/checkpoint) to resume from")
    start = ckpt.state.step
    if steps is None:
        if status == "complete" and start >= cfg.simulation.steps:
            raise InputError(f"{path}: run is complete ({start} steps); use --steps N to run N more")
        total = max(start, cfg.simulation.steps)
    elif steps < 0:
        raise InputError(f"--steps {steps}: must be >= 0")
    else:
        total = start + steps
    cfg = apply_overrides(cfg, [f"simulation.steps={total}"])
    backend = resolve(backend)
    open_for_writing(path, LIBVER).close()  # fail now, not after compiling kernels, if a run holds the file
    sim = Simulation(cfg, backend=backend, state=ckpt.state)
    writer = RunWriter.reopen(path, cfg, backend=sim.backend_name)
    return _write_run(sim, writer, progress), start


def _write_run(sim: Simulation, writer, progress: bool = False) -> dict:
    """Drive ``sim`` to the end of its config into ``writer``; stop cleanly on a signal."""
    target = sim.cfg.simulation.steps
    with StopOnSignal() as stop:
        try:
            obs = sim.run(writer=writer, progress=progress, stop=stop)
            final = sim.live_state()
            if final.step < target:  # stopped by a signal
                writer.close(final, "interrupted", interrupted_by=stop.name)
            else:
                writer.close(final, "complete")
        except BaseException as err:
            failure = write_failure(writer.path, err)
            if failure is not None:  # HDF5 failed inside a write: touching the file again may crash
                raise failure from None
            writer.fail(f"{err.__class__.__name__}: {err}")
            raise
    if final.step < target:
        raise RunInterrupted(f"{writer.path}: interrupted by {stop.name} at step {final.step} of {target}; "
                             f"checkpoint written; continue with: gpusim resume {writer.path}", stop.exit_code)
    return obs
