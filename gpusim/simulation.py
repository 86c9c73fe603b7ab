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

import numpy as np

from .backends import make_backend
from .config import Config
from .errors import InputError
from .observables import events_for, observables_for, scalar
from .progress import Progress
from .signals import StepAbandoned, StopOnSignal
from .state import State


class Simulation:
    """One run of the model on one backend (``auto``, ``cuda``, ``cpu``,
    ``numpy``): a batch of one, stepped by hand."""

    def __init__(self, cfg: Config, backend: str = "auto", state: State | None = None):
        self.cfg = cfg
        self.backend = make_backend(backend, cfg, state)
        self.last_observables: dict[str, int] = self._row({k: np.zeros(1, np.int64) for k in events_for(cfg)})

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def step_count(self) -> int:
        return int(self.backend.steps[0])

    def state(self) -> State:
        """A host (NumPy) copy of the current state."""
        return self.backend.host_state(0)

    def live_state(self) -> State:
        """The backend's own state (device arrays on cuda), for writers that
        read it before the next step: frames and checkpoints then stream to
        the file in bounded slabs instead of through a host copy of it all."""
        return self.backend.run_state(0)

    def _row(self, events: dict) -> dict[str, int]:
        values = {**self.backend.observe(), **events}
        return {name: scalar(name, values[name][0])
                for name in observables_for(self.cfg)}

    def step(self) -> dict[str, int]:
        """Advance one step and return its observables."""
        self.last_observables = self._row(self.backend.step())
        return self.last_observables

    def run(self, steps: int | None = None, progress: bool = False, stop=None) -> dict[str, int]:
        """Advance ``steps`` steps (default: up to the config's ``simulation.steps``)
        in memory; a run file is written by :func:`run_to_file` (the one run
        loop, :class:`gpusim.batch.Cohort`: a run alone is a cohort of one).

        ``stop``, if given, is polled after every step; when it returns true
        the run returns early (a signal asked the run to end).  A guarded
        step abandoned on a signal (:mod:`gpusim.signals`) ends the run too,
        at the state of the last complete step."""
        if steps is None:
            steps = max(0, self.cfg.simulation.steps - self.step_count)
        with Progress(steps, "gpusim run", enabled=progress) as bar:
            for _ in range(steps):
                try:
                    obs = self.step()
                except StepAbandoned:  # the backend put back the last complete step's state
                    break
                bar.update(1, tumour_cells=obs["tumour_cells"])
                if stop is not None and stop():
                    break
        return self.last_observables


def run_to_file(cfg: Config, out: str | Path, backend: str = "auto", progress: bool = False) -> dict:
    """Run ``cfg`` from the start and write the run file ``out`` (a batch of
    one: :func:`gpusim.batch.run_batch`).

    SIGTERM, SIGUSR1 and SIGINT end the run after the current step with a
    checkpoint and status ``interrupted`` (:class:`~gpusim.errors.RunInterrupted`)."""
    from .batch import run_batch

    return run_batch([cfg], [out], backend=backend, batch=1, progress=progress)[0]


def resume_member(path: str | Path, steps: int | None = None):
    """Check the run file ``path`` and prepare its continuation: returns a
    :class:`gpusim.batch.Member` (its writer is opened by :func:`open_member`
    once the backend is up) and the step it resumes from."""
    from .batch import Member
    from .config import apply_overrides
    from .io import space
    from .io.checkpoint import read_checkpoint
    from .io.reader import open_run_file, read_config, reading, require
    from .io.runfile import RunWriter

    path = Path(path)
    with reading(path), open_run_file(path) as f:
        cfg = read_config(f)
        status = str(f.attrs.get("status", "?"))
        groups = [f"observables/{name}" for name in observables_for(cfg)] + [f"fields/{n}" for n in f.get("fields", {})]
        for group in groups:  # what the continued run truncates and appends to
            for part in ("step", "time", "value"):
                require(f, f"{group}/{part}")
        ckpt = read_checkpoint(f)  # None: the disk filled before the first; step 0 is rebuilt from the config
        if ckpt is None and status == "complete":  # a complete run always has one: damaged, not restartable
            raise InputError(f"{path}: has no checkpoint (/checkpoint) to resume from")
    state = None if ckpt is None else ckpt.state
    if state is not None:
        _check_fits_config(path, cfg, state)
    start = 0 if state is None else state.step
    if steps is None:
        if status == "complete" and start >= cfg.simulation.steps:
            raise InputError(f"{path}: run is complete ({start} steps); use --steps N to run N more")
        total = max(start, cfg.simulation.steps)
    elif steps < 0:
        raise InputError(f"--steps {steps}: must be >= 0")
    else:
        total = start + steps
    cfg = apply_overrides(cfg, [f"simulation.steps={total}"])
    # Room first: a write that fails half-way through HDF5 could damage what
    # the file holds, so on a full disk the file is not opened for writing.
    space.require(path, RunWriter.resume_nbytes(cfg, state), f"continuing from step {start}",
                  None if state is None else start)
    return Member(cfg, state, None), start


def _check_fits_config(path: Path, cfg: Config, state: State) -> None:
    """The checkpoint's arrays have the sizes and types the stored config's
    lattice gives (a file edited or assembled by hand may not): else one
    line, before a backend copies them into arrays of another size."""
    from .components import field_arrays, site_arrays
    from .params import model_params

    mp = model_params(cfg)
    for part, arrays, n in (("sites", site_arrays(cfg), mp.n_sites), ("extra", field_arrays(cfg), mp.n_field)):
        for name, dtype in arrays.items():
            a = getattr(state, part).get(name)
            size = None if a is None else np.asarray(a).size
            if size != n or np.asarray(a).dtype != dtype:
                held = "nothing" if a is None else f"{size} values of {np.asarray(a).dtype}"
                raise InputError(f"{path}: its checkpoint does not fit its config: /checkpoint {part}/{name} holds "
                                 f"{held}, the config's lattice {'x'.join(map(str, cfg.lattice.shape))} needs {n} "
                                 f"of {dtype}")


def open_member(member, path: str | Path, backend: str) -> None:
    """Reopen a resumed member's run file ``path`` for writing."""
    from .io.runfile import RunWriter

    member.writer = RunWriter.reopen(path, member.cfg, backend=backend)


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
    from .batch import Cohort
    from .io.reader import open_for_writing
    from .io.layout import LIBVER

    member, start = resume_member(path, steps)
    backend = resolve(backend)
    open_for_writing(Path(path), LIBVER).close()  # fail now, not after compiling kernels, if a run holds the file
    cohort = Cohort([member], backend)
    open_member(member, path, cohort.backend_name)
    with StopOnSignal() as stop, Progress(member.cfg.simulation.steps - start, "gpusim run",
                                          enabled=progress) as bar:
        return cohort.run(stop=stop, progress=bar)[0], start
