"""One step of the model: the phase order (DESIGN §4), written once, and
the interface every backend implements.

A backend (the NumPy reference, the kernel engine on cpu or cuda) supplies
one method per phase; :meth:`Backend.step` calls them in :data:`PHASES`
order, skipping the immune phases when the config switches the immune
system off.  The T-cell migration phase makes ``n_moves`` moves.

>>> phase_order(immune_on=False)
('tumour_death', 'tumour_divide')
>>> phase_order(immune_on=True)[:3]
('chemokine', 'tcell_recruit', 'tcell_kill')
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod, update_abstractmethods
from contextlib import nullcontext
from typing import Any

from .config import Config
from .observables import EVENTS
from .params import ModelParams, StepParams, step_params
from .signals import GUARD_AFTER_S, GUARD_MAX_BYTES, StepAbandoned, guarded, handler_active, poll
from .state import State
from .therapy import at_step

#: (phase, runs only with the immune system on), in step order.  Phase 1 of
#: DESIGN §4 (therapy) is the StepParams every phase receives.
PHASES: tuple[tuple[str, bool], ...] = (
    ("chemokine", True),  # 2. secretion, diffusion substeps, decay
    ("tcell_recruit", True),  # 3. recruitment at vessels, adoptive transfer
    ("tcell_kill", True),  # 4. killing, exhaustion, expansion
    ("tumour_death", False),  # 5. killed, spontaneous, chemotherapy
    ("tumour_divide", False),  # 6. two-phase division, mutation, new clones
    ("tcell_migrate", True),  # 7. n_moves moves
    ("tcell_death", True),  # 8. lifespan, exhaustion, chemotherapy
)


def phase_order(immune_on: bool) -> tuple[str, ...]:
    """The phases one step runs, in order."""
    return tuple(name for name, immune in PHASES if immune_on or not immune)


def guards(last_step_s: float | None, state_bytes: int) -> bool:
    """Whether the next step is guarded (:mod:`gpusim.signals`): a run
    listens for signals, the step is likely slow (the first, or after one
    slower than GUARD_AFTER_S) and its state is small enough to copy."""
    slow = last_step_s is None or last_step_s > GUARD_AFTER_S
    return slow and state_bytes <= GUARD_MAX_BYTES and handler_active()


class Backend(ABC):
    """A backend: the state on some device and the rules that advance it.

    Subclasses set ``name`` (``numpy``, ``cpu``, ``cuda``), ``xp`` (the array
    module of ``state``), ``cfg``, ``mp`` (:func:`gpusim.params.model_params`)
    and ``state``, and implement one method per phase of :data:`PHASES` (the
    abstract methods below are made from it), each taking the step's
    :class:`~gpusim.params.StepParams` and the step's event counts (a dict to
    fill)."""

    name: str
    xp: Any
    cfg: Config
    mp: ModelParams
    state: State

    #: Wall time of the last step (None before the first): decides whether
    #: the next step is guarded (gpusim.signals).
    last_step_s: float | None = None

    def step(self) -> dict[str, int]:
        """Advance one step; return its event counts (:data:`gpusim.observables.EVENTS`).

        While a run listens for signals (:mod:`gpusim.signals`), a step that
        is likely slow is guarded: it starts from a host copy of the state,
        and a stop request inside it raises
        :class:`~gpusim.signals.StepAbandoned` after putting that copy back."""
        sp = step_params(self.mp, at_step(self.cfg, self.state.step))
        events = dict.fromkeys(EVENTS, 0)
        self.run_phases(sp, events)
        self.state.step += 1
        return events

    def run_phases(self, sp, events: dict) -> None:
        """``begin_step``, every phase in :func:`phase_order` (polling for a
        stop between them), ``end_step``: the body of every backend's step
        (a batch of runs passes its own ``sp``).  Guarded when likely slow."""
        undo = self.snapshot() if guards(self.last_step_s, self.state_bytes()) else None
        started = time.perf_counter()
        try:
            with guarded(self.synchronize) if undo is not None else nullcontext():
                self.begin_step(sp)
                for name in phase_order(self.mp.immune_on):
                    getattr(self, name)(sp, events)
                    poll()
                self.end_step(events)
        except StepAbandoned:
            self.restore(undo)
            raise
        self.last_step_s = time.perf_counter() - started

    def state_bytes(self) -> int:
        """Persistent memory of the whole state (every run of a batch): what
        a guarded step's :meth:`snapshot` copies."""
        return int(self.mp.n_sites * self.bytes_per_site())

    def snapshot(self) -> State:
        """A host copy of the state that later steps do not change."""
        return self.host_state()

    def restore(self, state: State) -> None:
        """Make a :meth:`snapshot` the current state."""
        self.state = state.map(self.xp.asarray)

    def begin_step(self, sp: StepParams) -> None:
        """Before the first phase (the kernel engine uploads the step's parameters)."""

    def end_step(self, events: dict[str, int]) -> None:
        """After the last phase (the kernel engine reads its event counters)."""

    def synchronize(self) -> None:
        """Wait until every queued phase has finished (for timing)."""

    def copy_bytes_per_s(self, nbytes: int) -> float:
        """Bytes read + written per second by a copy of ``nbytes`` where the
        state lives (the memory roofline of `gpusim bench`): host memory here."""
        from .hostinfo import copy_bytes_per_s

        return copy_bytes_per_s(nbytes)

    def launch_recorder(self):
        """A :class:`gpusim.engine.profile.Recorder` counting this backend's
        kernel launches, or None where there are none (the NumPy reference)."""
        return None

    @abstractmethod
    def observe(self) -> dict:
        """The state observables (:data:`gpusim.observables.STATE`) of the
        current state (the kernel engine reduces them on the device)."""

    @abstractmethod
    def host_state(self) -> State:
        """A host (NumPy) copy of the state."""

    @abstractmethod
    def bytes_per_site(self) -> float:
        """Persistent memory per lattice site (state and scratch)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the backend runs, in words (for benchmark records)."""


def _phase_method(name: str):
    def phase(self, sp: StepParams, events: dict) -> None:
        raise NotImplementedError(name)

    phase.__name__ = phase.__qualname__ = name
    phase.__doc__ = f"Phase {name!r} of the step (see PHASES)."
    return abstractmethod(phase)


# One abstract method per phase, named by PHASES: a backend that lacks one
# cannot be made.
for _name, _ in PHASES:
    setattr(Backend, _name, _phase_method(_name))
update_abstractmethods(Backend)
