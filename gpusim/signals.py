"""Stopping a run cleanly when the batch system asks.

Slurm sends SIGTERM at the time limit (and SIGKILL ``KillWait`` seconds
later), or a chosen signal ahead of it with ``--signal=USR1@300``.  While a
run is writing, SIGTERM, SIGUSR1 and SIGINT only set a flag; the run loop
polls it after each step, writes a checkpoint, marks the file
``interrupted`` and exits with 128 + the signal number (143, 138, 130).
Handlers are installed only in the main thread (Python allows no other).

>>> import os, signal
>>> with StopOnSignal() as stop:
...     os.kill(os.getpid(), signal.SIGUSR1)
...     stop(), stop.name, stop.exit_code
(True, 'SIGUSR1', 138)
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


class StopOnSignal:
    """Context manager; call the instance to ask whether a stop was requested."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a checkpoint
        self.signum = signum

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
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
