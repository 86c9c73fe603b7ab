"""Cohorts: many runs advancing together in one set of kernel launches.

Runs whose arrays have the same shape (:func:`batch_key`: lattice shape,
neighbourhood, boundary, chemokine coarsening, dt, immune model on/off) form
a batch on one device.  Each step is one launch per phase over every site of
every run; each run keeps its own seed, thresholds, therapy schedule, clone
table, observables, outcome and run file, byte-identical to the same run
made alone (a run alone *is* a batch of one: ``gpusim run`` goes through
:class:`Cohort` too).  Runs may start at different steps (resumed from
their checkpoints) and end at different steps: a run that reaches its
``simulation.steps`` is closed, complete, and leaves the batch while the
others go on.

Host work per step does not grow with the number of runs: observables are
batched reductions that reach the host in one transfer, and rows are handed
to each run's writer only when some run writes a frame or checkpoint.

>>> import os, tempfile
>>> import gpusim
>>> base = {"lattice": {"shape": [24, 24]}, "output": {"frame_every_steps": 10}}
>>> cfgs = [gpusim.Config.model_validate({**base, "simulation": {"seed": s, "steps": 20 + 10 * s}})
...         for s in range(3)]
>>> d = tempfile.mkdtemp()
>>> final = gpusim.run_batch(cfgs, [os.path.join(d, f"run{s}.h5") for s in range(3)], backend="cpu")
>>> [gpusim.open_run(os.path.join(d, f"run{s}.h5")).steps for s in range(3)]
[20, 30, 40]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import components
from .config import Config
from .errors import InputError, RunInterrupted
from .observables import events_for, observables_for, scalar
from .signals import StepAbandoned
from .state import State

#: Default share of a device's free memory that ``--batch auto`` fills
#: (environment: GPUSIM_BATCH_MEMORY_SHARE), and the most runs in one batch
#: (GPUSIM_BATCH_MAX).
MEMORY_SHARE = 0.5
MAX_BATCH = 1024
#: A batch's runs are the launch grid's y dimension, which CUDA caps here.
GRID_Y_MAX = 65535


def batch_key(cfg: Config) -> tuple:
    """What must be equal for runs to share a batch: everything that shapes
    the arrays or the launch sequence: each component's part
    (:func:`gpusim.components.batch_key`).

    >>> from gpusim.config import Config
    >>> a = Config.model_validate({"simulation": {"seed": 1}, "tumour": {"death_rate_per_day": 0.2}})
    >>> b = Config.model_validate({"simulation": {"seed": 2}})
    >>> batch_key(a) == batch_key(b)
    True
    """
    return components.batch_key(cfg)


def group_by_shape(cfgs: list[Config], size: int | str, backend: str = "cpu", ranks: int = 1) -> list[list[int]]:
    """Indices of ``cfgs`` in batches of at most ``size`` runs of one
    :func:`batch_key`, in order of first appearance: the one grouping of
    :func:`run_batch` and of sweeps.  ``size="auto"`` sizes each group from
    its own first config (:func:`auto_batch` on ``backend``), at most an
    equal share of the group per rank (``ranks``), so every rank gets work.

    >>> from gpusim.config import Config
    >>> small = Config.model_validate({"lattice": {"shape": [8, 8]}})
    >>> big = Config.model_validate({"lattice": {"shape": [9, 9]}})
    >>> group_by_shape([small, big, small, small], 2)
    [[0, 2], [3], [1]]
    >>> group_by_shape([small, big, small, small], "auto", "numpy")
    [[0], [2], [3], [1]]
    """
    groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        groups.setdefault(batch_key(cfg), []).append(i)
    out = []
    for g in groups.values():
        n = auto_batch(cfgs[g[0]], backend, -(-len(g) // max(ranks, 1))) if size == "auto" \
            else min(max(1, int(size)), GRID_Y_MAX)
        out += [g[i : i + n] for i in range(0, len(g), n)]
    return out


def bytes_per_run(cfg: Config, backend: str) -> int:
    """Memory one run of ``cfg`` holds in a batch, where it is tightest (the
    device on cuda): :func:`gpusim.memory.required_bytes` of its state and
    scratch, plus its Params and Fields records.  The clone table is left
    out: its capacity is the batch's largest run's (it doubles as needed)."""
    from .abi import struct_dtype
    from .memory import required_bytes

    need = required_bytes(cfg, backend)
    return need.get("device", need["host"]) + struct_dtype("Params").itemsize + struct_dtype("Fields").itemsize


def free_memory(backend: str) -> int:
    """Free bytes where the runs live: the current GPU, or the host."""
    from .memory import device_available_bytes, host_available_bytes

    return device_available_bytes() if backend == "cuda" else host_available_bytes()


def auto_batch(cfg: Config, backend: str, runs: int | None = None) -> int:
    """How many runs of ``cfg`` to batch: as many as fit in
    GPUSIM_BATCH_MEMORY_SHARE of the free memory, at most GPUSIM_BATCH_MAX
    and at most ``runs``; 1 on numpy (the reference steps runs one by one)."""
    if backend == "numpy":
        return 1
    share = float(os.environ.get("GPUSIM_BATCH_MEMORY_SHARE", MEMORY_SHARE))
    cap = min(int(os.environ.get("GPUSIM_BATCH_MAX", MAX_BATCH)), GRID_Y_MAX)
    fit = int(share * free_memory(backend) // bytes_per_run(cfg, backend))
    return max(1, min(fit, cap, runs if runs else cap))


def parse_batch(text: str) -> int | str:
    """``--batch`` value: a positive integer or ``auto``."""
    if text == "auto":
        return "auto"
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"--batch {text!r}: expected a positive integer or auto")
    if int(text) > GRID_Y_MAX:
        raise InputError(f"--batch {text}: at most {GRID_Y_MAX} runs (a batch is the launch grid's y dimension)")
    return int(text)


@dataclass
class Member:
    """One run of a cohort: where it starts (``state``; None: step 0, built
    by the backend) and where it is written.

    ``on_close(status)`` is called right after its file is closed (a sweep
    renames the finished file into place there)."""

    cfg: Config
    state: State | None
    writer: object  # gpusim.io.runfile.RunWriter
    on_close: Callable[[str], None] | None = None


class Cohort:
    """Runs ``members`` to the end of their configs on one backend."""

    def __init__(self, members: list[Member], backend: str = "auto"):
        from .backends import make_backend

        self.members = members
        self.backend = make_backend(backend, [m.cfg for m in members], [m.state for m in members])
        self.backend_name = self.backend.name
        for m in members:
            m.state = None  # the backend holds the state now
        self.targets = np.array([m.cfg.simulation.steps for m in members], dtype=np.int64)
        # Every run's output cadences (frame series, checkpoints; 0 = none):
        # a step where none is due costs no call into any writer.
        cadences = [_cadences(m.cfg) for m in members]
        self.every = np.zeros((len(members), max(map(len, cadences))), dtype=np.int64)
        for b, c in enumerate(cadences):
            self.every[b, : len(c)] = c
        self.final: list[dict | None] = [None] * len(members)
        self._rows: list[tuple[np.ndarray, dict]] = []  # buffered (steps, observables) of the active runs

    def _state_fn(self, b: int):
        """Run ``b``'s live state (device arrays on cuda): writers stream
        frames and checkpoints from it in bounded slabs."""
        return lambda: self.backend.run_state(b)

    def _due(self, rows: np.ndarray, steps: np.ndarray) -> np.ndarray:
        every = self.every[rows]
        return ((every > 0) & (steps[:, None] % np.maximum(every, 1) == 0)).any(axis=1)

    def _deliver(self) -> None:
        """Hand every buffered row to its run's writer (the active set is the
        same for every buffered step: it only changes after a delivery)."""
        if not self._rows:
            return
        steps = np.stack([s for s, _ in self._rows])
        values = {name: np.stack([v[name] for _, v in self._rows]) for name in observables_for(self.backend.cfgs[0])}
        for j, b in enumerate(self.backend.active):
            self.members[b].writer.record_rows(steps[:, j], {name: v[:, j] for name, v in values.items()})
        last = {name: v[-1] for name, v in values.items()}
        for j, b in enumerate(self.backend.active):
            self.final[b] = {name: scalar(name, v[j]) for name, v in last.items()}
        self._rows.clear()

    def _close(self, rows, status: str, **attrs) -> None:
        for b in rows:
            m = self.members[b]
            m.writer.close(self.backend.run_state(b), status, **attrs)
            if m.on_close is not None:
                m.on_close(status)
        self.backend.retire(rows)

    def run(self, stop=None, progress=None) -> list[dict]:
        """Advance every run to its configured steps; returns each run's last
        observables.  ``stop`` (a :class:`~gpusim.signals.StopOnSignal`) is
        polled after every step: when a signal came, every run still going
        is checkpointed, closed ``interrupted`` and
        :class:`~gpusim.errors.RunInterrupted` raised."""
        be = self.backend
        try:
            obs = {**be.observe(), **{k: np.zeros(len(be.active), np.int64) for k in events_for(be.cfgs[0])}}
            for j, b in enumerate(be.active):
                self.members[b].writer.start({k: scalar(k, v[j]) for k, v in obs.items()}, self._state_fn(b))
                self.final[b] = {k: scalar(k, v[j]) for k, v in obs.items()}
            self._close(be.active[be.steps[be.active] >= self.targets[be.active]], "complete")
            while len(be.active):
                rows = be.active
                try:
                    events = be.step()
                except StepAbandoned:  # a stop inside a guarded step: every run is back at its last step
                    events = None
                steps = be.steps[rows]
                if events is not None:
                    self._rows.append((steps, {**be.observe(), **events}))
                    if progress is not None:
                        progress.update(1, tumour_cells=int(self._rows[-1][1]["tumour_cells"][0]))
                due = self._due(rows, steps) & (events is not None)
                done = (steps >= self.targets[rows]) & (events is not None)
                why = stop.name if stop is not None and stop() else None
                if not (due.any() or done.any() or why or len(self._rows) >= _max_rows()):
                    continue
                self._deliver()
                for b, step in zip(rows[due], steps[due]):
                    self.members[b].writer.write_due(int(step), self._state_fn(b))
                self._close(rows[done], "complete")
                if why and len(be.active):
                    stopped = be.active
                    self._close(stopped, "interrupted", interrupted_by=why)
                    raise RunInterrupted(self._interrupted(stopped, why), stop.exit_code)
        except RunInterrupted:
            raise
        except BaseException as err:
            from .io.space import write_failure

            first = self.members[be.active[0]].writer.path if len(be.active) else None
            failure = write_failure(first, err) if first is not None else None
            if failure is not None:  # HDF5 failed inside a write: touching the files again may crash
                raise failure from None  # (each keeps its last checkpoint: resumable)
            for b in be.active:
                self.members[b].writer.fail(f"{err.__class__.__name__}: {err}")
            raise
        return self.final

    def _interrupted(self, rows, why: str) -> str:
        first = self.members[rows[0]].writer.path
        more = f" (and {len(rows) - 1} more runs of the batch)" if len(rows) > 1 else ""
        return (f"{first}{more}: interrupted by {why} at step {int(self.backend.steps[rows[0]])} of "
                f"{int(self.targets[rows[0]])}; checkpoint written; continue with: gpusim resume {first}")


def _cadences(cfg: Config) -> list[int]:
    """Steps between the writes a run file makes (each frame series,
    checkpoints), as :meth:`gpusim.io.runfile.RunWriter.write_due` decides them."""
    from .io.frames import series

    return [*series(cfg).values(), cfg.output.checkpoint_every_steps]


def _max_rows() -> int:
    from .io.rows import MAX_PENDING_ROWS

    return MAX_PENDING_ROWS


def run_batch(configs: list[Config], outputs: list[str | Path], backend: str = "auto",
              batch: int | str = "auto", progress: bool = True) -> list[dict]:
    """Run ``configs`` from step 0 into the run files ``outputs``, batching
    runs of the same array shape (:func:`batch_key`) ``batch`` at a time
    (``auto``: as many as fit, see :func:`auto_batch`).  Each file is
    byte-identical to ``gpusim run`` of its config alone.  Returns each run's
    final observables, in the order of ``configs``.  Progress is shown as
    ``gpusim run`` shows it (a bar on a terminal, a line every 30 s
    otherwise, on stderr); ``progress=False`` for none.

    >>> import os, tempfile
    >>> import gpusim
    >>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [20, 20]}, "simulation": {"steps": 15}})
    >>> cohort = [cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"seed": s})})
    ...           for s in range(4)]
    >>> d = tempfile.mkdtemp()
    >>> final = gpusim.run_batch(cohort, [os.path.join(d, f"p{s}.h5") for s in range(4)], backend="cpu", batch=2)
    >>> len(final), all(f["tumour_cells"] > 0 for f in final)
    (4, True)
    """
    from .backends import resolve
    from .io.runfile import RunWriter
    from .progress import Progress
    from .signals import StopOnSignal

    if len(configs) != len(outputs):
        raise InputError(f"run_batch: {len(configs)} configs but {len(outputs)} outputs")
    if not configs:
        return []
    name = resolve(backend)
    results: list[dict] = [{}] * len(configs)
    with StopOnSignal() as stop:
        for idx in group_by_shape(configs, batch, name):
            members = [Member(configs[i], None, None) for i in idx]  # step 0, built on the device
            cohort = Cohort(members, name)
            for i, m in zip(idx, members):
                m.writer = RunWriter(outputs[i], configs[i], backend=cohort.backend_name)
            total = int(cohort.targets.max())
            with Progress(total, "gpusim run" if len(idx) == 1 else f"gpusim batch of {len(idx)}",
                          enabled=progress) as bar:
                final = cohort.run(stop=stop, progress=bar)
            for i, f in zip(idx, final):
                results[i] = f
            del members, cohort  # its device arrays go before the next batch is allocated
    return results
