"""One step of the model: the phase order (DESIGN §4), assembled from the
components (:mod:`gpusim.components`), and the interface every backend
implements.

A backend (the NumPy reference, the kernel engine on cpu or cuda) runs
the phases :func:`phase_order` lists for its config, each through the
function its component names for that backend (``engine`` or
``reference``): :meth:`Backend.step` calls them in step order, skipping
the phases of components the config does not switch on (the immune
phases without the immune system).

>>> from gpusim.config import Config
>>> phase_order(Config.model_validate({"immune": {"enabled": False}}))
('tumour_death', 'tumour_divide')
>>> phase_order(Config())[:3]
('chemokine', 'tcell_recruit', 'tcell_kill')
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import nullcontext
from typing import Any

import numpy as np

from .components import Phase, all_phases, phases
from .config import Config
from .observables import events_for
from .params import ModelParams, step_params
from .signals import GUARD_AFTER_S, GUARD_MAX_BYTES, StepAbandoned, guarded, handler_active, poll
from .state import State
from .therapy import at_step

#: Every phase of every component, in step order (DESIGN §4 numbers them;
#: phase 1, the therapy, is the StepParams every phase receives).
PHASES: tuple[Phase, ...] = all_phases()


def phase_order(cfg: Config) -> tuple[str, ...]:
    """The phases one step of ``cfg`` runs, in order."""
    return tuple(p.name for p in phases(cfg))


def guards(last_step_s: float | None, state_bytes: int) -> bool:
    """Whether the next step is guarded (:mod:`gpusim.signals`): a run
    listens for signals, the step is likely slow (the first, or after one
    slower than GUARD_AFTER_S) and its state is small enough to copy."""
    slow = last_step_s is None or last_step_s > GUARD_AFTER_S
    return slow and state_bytes <= GUARD_MAX_BYTES and handler_active()


class PhaseRunner(ABC):
    """The phase orchestration every backend shares: one step is
    ``begin_step``, the phases of :func:`phase_order` (polling for a stop
    between them), ``end_step``; guarded when likely slow.

    Subclasses set ``cfg``, ``mp`` (:func:`gpusim.params.model_params`) and
    ``side``: which function of each :class:`~gpusim.components.Phase` runs
    here (``engine`` or ``reference``); it is called as ``fn(backend,
    step_params, events)`` with the step's parameters and the step's event
    counts (a dict to fill)."""

    side: str
    cfg: Config
    mp: ModelParams

    #: Wall time of the last step (None before the first): decides whether
    #: the next step is guarded (gpusim.signals).
    last_step_s: float | None = None

    def run_phases(self, sp, events: dict) -> None:
        """``begin_step``, every phase in :func:`phase_order` (polling for a
        stop between them), ``end_step``: the body of every backend's step
        (a batch of runs passes its own ``sp``).  Guarded when likely slow."""
        undo = self.snapshot() if guards(self.last_step_s, self.state_bytes()) else None
        started = time.perf_counter()
        try:
            with guarded(self.synchronize) if undo is not None else nullcontext():
                self.begin_step(sp)
                for phase in self._phases():
                    self.run_phase(phase, sp, events)
                    poll()
                self.end_step(events)
        except StepAbandoned:
            self.restore(undo)
            raise
        self.last_step_s = time.perf_counter() - started

    def _phases(self) -> tuple[Phase, ...]:
        if getattr(self, "_phase_cache", None) is None:
            self._phase_cache = phases(self.cfg)
        return self._phase_cache

    def run_phase(self, phase: Phase, sp, events: dict) -> None:
        """Run one phase of the step on this backend."""
        phase.function(self.side)(self, sp, events, *phase.args)

    def begin_step(self, sp) -> None:
        """Before the first phase (the kernel engine uploads the step's parameters)."""

    def end_step(self, events: dict) -> None:
        """After the last phase (the kernel engine reads its event counters)."""

    @abstractmethod
    def state_bytes(self) -> int:
        """Persistent memory of the whole state (every run of a batch): what
        a guarded step's :meth:`snapshot` copies."""

    @abstractmethod
    def snapshot(self):
        """A copy of the state that later steps do not change."""

    @abstractmethod
    def restore(self, snap) -> None:
        """Make a :meth:`snapshot` the current state."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait until every queued phase has finished (for timing)."""


class Backend(PhaseRunner):
    """One run on the NumPy reference: the state on the host and the rules
    that advance it, one step at a time (:class:`BatchBackend` is what runs
    are driven through: the reference's is a list of these).

    Subclasses set ``name``, ``xp`` (the array module of ``state``) and
    ``state`` besides what :class:`PhaseRunner` needs."""

    name: str
    xp: Any
    state: State

    def step(self) -> dict[str, int]:
        """Advance one step; return its event counts (:data:`gpusim.observables.EVENTS`).

        While a run listens for signals (:mod:`gpusim.signals`), a step that
        is likely slow is guarded: it starts from a host copy of the state,
        and a stop request inside it raises
        :class:`~gpusim.signals.StepAbandoned` after putting that copy back."""
        sp = step_params(self.mp, at_step(self.cfg, self.state.step))
        events = dict.fromkeys(events_for(self.cfg), 0)
        self.run_phases(sp, events)
        self.state.step += 1
        return events

    def state_bytes(self) -> int:
        return int(self.mp.n_sites * self.bytes_per_site())

    def snapshot(self) -> State:
        """A host copy of the state that later steps do not change."""
        return self.host_state()

    def restore(self, state: State) -> None:
        """Make a :meth:`snapshot` the current state."""
        self.state = state.map(self.xp.asarray)

    def synchronize(self) -> None:
        """Nothing queued: NumPy returns when the work is done."""

    def copy_bytes_per_s(self, nbytes: int) -> float:
        """Bytes read + written per second by a copy of ``nbytes`` where the
        state lives (the memory roofline of `gpusim bench`): host memory here."""
        from .hostinfo import copy_bytes_per_s

        return copy_bytes_per_s(nbytes)

    @abstractmethod
    def observe(self) -> dict:
        """The state observables (:data:`gpusim.observables.STATE`) of the current state."""

    @abstractmethod
    def host_state(self) -> State:
        """A host (NumPy) copy of the state."""

    @abstractmethod
    def bytes_per_site(self) -> float:
        """Persistent memory per lattice site (state and scratch)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the backend runs, in words (for benchmark records)."""


class BatchBackend(ABC):
    """The interface runs are driven through (:class:`gpusim.batch.Cohort`,
    :class:`gpusim.Simulation`, ``gpusim bench``), implemented with the same
    signatures by the kernel engine
    (:class:`~gpusim.engine.backend.KernelBackend`) and the NumPy reference
    (:class:`~gpusim.reference.backend.ReferenceBatch`): B runs of one array
    shape; per-run values are arrays over the ``active`` runs."""

    name: str
    cfgs: list[Config]
    active: np.ndarray

    @property
    @abstractmethod
    def n_runs(self) -> int:
        """Runs in the batch, active or not."""

    @property
    @abstractmethod
    def steps(self) -> np.ndarray:
        """Each run's step (int64, every run)."""

    @abstractmethod
    def step(self) -> dict[str, np.ndarray]:
        """Advance every active run one step; its event counts, one int64
        array over the active runs per event (StepAbandoned: none moved)."""

    @abstractmethod
    def observe(self) -> dict[str, np.ndarray]:
        """The state observables of the active runs, one array each."""

    @abstractmethod
    def retire(self, rows) -> None:
        """Runs ``rows`` leave the batch (later steps skip them)."""

    @abstractmethod
    def run_state(self, b: int) -> State:
        """Run ``b``'s state where it lives (device arrays on cuda)."""

    @abstractmethod
    def host_state(self, b: int = 0) -> State:
        """A host (NumPy) copy of run ``b``'s state."""

    @property
    def state(self) -> State:
        """Run 0's state: the single-run view of a batch of one."""
        return self.run_state(0)

    @abstractmethod
    def bytes_per_site(self) -> float:
        """Persistent memory per site of one run (state and scratch)."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait until every queued launch has finished (for timing)."""

    @abstractmethod
    def copy_bytes_per_s(self, nbytes: int) -> float:
        """Bytes read + written per second by a copy of ``nbytes`` where the state lives."""

    def launch_recorder(self):
        """A :class:`gpusim.engine.profile.Recorder` counting kernel
        launches, or None where there are none (the NumPy reference)."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """Where the backend runs, in words (for benchmark records)."""
