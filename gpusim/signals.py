"""Stopping a run cleanly when the batch system asks.

Slurm sends SIGTERM at the time limit (and SIGKILL ``KillWait`` seconds
later), or a chosen signal ahead of it with ``--signal=USR1@300``.  While a
run is writing, SIGTERM, SIGUSR1 and SIGINT only set a flag; the run loop
polls it after each step, writes a checkpoint, marks the file
``interrupted`` and exits with 128 + the signal number (143, 138, 130).
Handlers are installed only in the main thread (Python allows no other).

A step that takes long (many chemokine substeps or T-cell moves, or a big
lattice on the host) must not keep the signal waiting: the backends call
:func:`poll` between phases and between substeps and moves.  Inside a
*guarded* step a requested stop raises :class:`StepAbandoned`, and the
backend puts back the state it copied when the step began, so the
checkpoint is the one of the last complete step.  Copying costs one pass
over the state, so only steps worth it are guarded
(:meth:`gpusim.step.Backend.step`): the first step of a run segment and any
step after one that took more than :data:`GUARD_AFTER_S`.  Every other step
is short by that measure and runs to its end before the stop, so all steps
honour a signal within about that time, and runs whose steps are quick (the
shipped scenarios) copy the state once, for their first step, and never
again.  A state bigger than :data:`GUARD_MAX_BYTES` is never copied (a GPU
run of 10^9 sites at ~0.1 s per step): it stops at the end of its step.

>>> import os, signal
>>> with StopOnSignal() as stop:
...     os.kill(os.getpid(), signal.SIGUSR1)
...     stop(), stop.name, stop.exit_code
(True, 'SIGUSR1', 138)
>>> poll()  # no guarded step running: nothing to abandon
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)

#: A step that follows one slower than this (seconds) is guarded: it copies
#: the state first and is abandoned at the next poll after a stop request.
GUARD_AFTER_S = 0.5

#: A step is guarded only while the state (site arrays) is at most this
#: big: the guard's host copy must not double the memory of a run that was
#: sized to fill its device (a 10^9-cell tumour).  Bigger runs finish the
#: step they are in before they stop (about 0.1-0.2 s per step on a GPU).
GUARD_MAX_BYTES = 1 << 30


class StepAbandoned(Exception):
    """A stop was requested inside a guarded step; the step was undone."""


_active: "StopOnSignal | None" = None  # the handler of the run in progress
_guard_wait = None  # while a guarded step runs: waits for its queued launches


class StopOnSignal:
    """Context manager; call the instance to ask whether a stop was requested."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._outer: StopOnSignal | None = None

    def _handle(self, signum, frame) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a checkpoint
        # The enclosing handlers hear it too: a sweep stops after the batch
        # whose own handler caught the signal, instead of starting the next.
        level = self
        while level is not None:
            if level.signum is None:
                level.signum = signum
            level = level._outer

    def __enter__(self) -> "StopOnSignal":
        global _active
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
            self._outer, _active = _active, self
            if self._outer is not None and self.signum is None:
                self.signum = self._outer.signum  # a stop asked for before this run began holds for it too
        return self

    def __exit__(self, *exc) -> None:
        global _active
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        if self._previous:
            _active = self._outer
        self._previous.clear()

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str | None:
        return None if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + signal number, the shell's convention for "killed by signal"."""
        return 128 + (self.signum or 0)


def handler_active() -> bool:
    """True while a :class:`StopOnSignal` of this thread listens (a run is writing)."""
    return _active is not None


@contextmanager
def guarded(wait):
    """Run a guarded step: :func:`poll` first calls ``wait`` (the device's
    synchronize: kernel launches are asynchronous, so the host would queue
    the whole step before its first poll), then abandons on a stop."""
    global _guard_wait
    _guard_wait = wait
    try:
        yield
    finally:
        _guard_wait = None


def poll() -> None:
    """Between launches: raise :class:`StepAbandoned` if a guarded step runs
    and a stop was requested.  A no-op (one global read) otherwise."""
    if _guard_wait is not None and _active is not None:
        _guard_wait()
        if _active.signum is not None:
            raise StepAbandoned
