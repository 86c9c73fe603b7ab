"""Many short runs at once: the virtual cohorts behind ``gpusim validate``.

A job is a config file plus ``--set`` overrides; each runs on the cpu
backend (one OpenMP thread) in a worker process and comes back as a few
numbers: its outcome (gpusim.outcome.classify, the run file's rule), the
tumour change from a given day (RECIST-like response, for untreated arms
too) and state observables at that day and at the end.  A run stops early
once its outcome can no longer change (no tumour cell left, or escape),
unless the job asks for its end.

>>> r = simulate(Job(CONFIGS / "quickstart.toml", ["lattice.shape=[24,24]", "simulation.steps=20"]))
>>> r["outcome"] in ("elimination", "equilibrium", "progressing", "escape"), r["days"] > 0
(True, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..outcome import escaped
from ..scenarios import config_dir

#: The shipped scenario configs (in the wheel, or a source checkout's configs/ folder).
CONFIGS = config_dir()


@dataclass(frozen=True)
class Job:
    config: str | Path
    overrides: list[str] = field(default_factory=list)
    from_day: float | None = None  # tumour change and observables from this day (default: first therapy start)
    spatial: bool = False  # also the spatial statistics of the lattice at that day (state_statistics)
    to_end: bool = False  # run every configured step, even once the outcome is settled (end-of-run values)


def state_statistics(sim) -> dict:
    """``gpusim analyse``'s statistics (gpusim.analysis.spatial: frame and
    microenvironment columns) of a simulation's current state, as its frames
    would give them.

    >>> from gpusim.config import load_config
    >>> from gpusim.simulation import Simulation
    >>> sim = Simulation(load_config(CONFIGS / "adaptive_resistance.toml", ["lattice.shape=[30,30]"]), backend="cpu")
    >>> stats = state_statistics(sim)
    >>> stats["tumour_cells"] == sim.last_observables["tumour_cells"], stats["induced_pdl1_fraction"]
    (True, 0.0)
    """
    return _statistics(sim.cfg, sim.state())


def _statistics(cfg, st) -> dict:
    from ..analysis import spatial
    from ..analysis.table import oxygen_settings
    from ..io.frames import field_array, field_specs

    specs = field_specs()
    layers = {}
    for name in ("tumour_clone", "tcells", *spatial.MICRO_COLUMNS):
        array = field_array(st, specs[name].source)
        if array is not None:
            layers[name] = array.reshape(specs[name].grid_of(cfg, st).array_shape)
    clone, tcells = layers.pop("tumour_clone"), layers.pop("tcells")
    dx, settings = cfg.lattice.dx_um, cfg.analysis
    oxygen = oxygen_settings(cfg) if "oxygen_deficit" in layers else {}
    return {**spatial.frame_statistics(clone, tcells, dx, settings),
            **spatial.microenvironment_statistics(clone, tcells, layers, dx, settings, **oxygen)}


class _Track:
    """One job's run as :func:`simulate_batch` follows it step by step."""

    def __init__(self, job: Job, cfg, obs: dict):
        from ..outcome import therapy_start_day

        self.job, self.cfg = job, cfg
        self.dt_days = cfg.simulation.dt_days
        self.times, self.cells, self.edge = [0.0], [obs["tumour_cells"]], [obs["edge_cells"]]
        self.at_day, self.final, self.divisions = dict(obs), dict(obs), 0
        self.from_day = job.from_day if job.from_day is not None else therapy_start_day(cfg)
        # the spatial statistics of the last step at or before from_day (as at_day)
        self.spatial_step = (None if not job.spatial or self.from_day is None
                             else int(self.from_day / self.dt_days + 1e-9))
        self.spatial = None

    def record(self, step: int, obs: dict) -> bool:
        """Take step ``step``'s observables; True once the run is over (its
        last step, or its outcome can no longer change)."""
        cfg = self.cfg
        self.final = obs
        self.divisions += obs["divisions"]
        self.times.append(step * self.dt_days)
        self.cells.append(obs["tumour_cells"])
        self.edge.append(obs["edge_cells"])
        if self.from_day is not None and self.times[-1] <= self.from_day:
            self.at_day = dict(obs)
        settled = (self.cells[-1] == 0 or escaped(cfg.outcome, self.cells[-1], self.edge[-1])) and (self.from_day is None or self.times[-1] > self.from_day)
        return (settled and not self.job.to_end) or step >= cfg.simulation.steps

    def result(self) -> dict:
        from ..outcome import classify, response_of, tumour_change

        cfg, times, cells = self.cfg, self.times, self.cells
        result = classify(cfg, times, cells, self.edge)
        daily = np.searchsorted(times, np.arange(0.0, times[-1] + 1e-9, 1.0))
        result.update(days=times[-1], final_cells=cells[-1], final=self.final, at_day=self.at_day,
                      divisions=self.divisions, max_cells=int(np.max(cells)),
                      curve=(np.asarray(times)[daily], np.asarray(cells)[daily]))
        if self.job.spatial:
            result["spatial"] = self.spatial  # None when the run ended before from_day
        if self.from_day is not None and "response" not in result:
            base, final, change = tumour_change(np.array(times), np.array(cells), self.from_day)
            result.update(response=response_of(change, final, cfg.lattice.dim) if base else "NE",
                          tumour_change=change)
        return result


def simulate(job: Job) -> dict:
    """Run one job to its end (or until its outcome is settled)."""
    return simulate_batch([job])[0]


def simulate_batch(jobs: list[Job]) -> list[dict]:
    """:func:`simulate` of every job, the jobs run as one cpu batch (their
    configs must share :func:`gpusim.batch.batch_key`): one set of launches
    per step for all of them, each run leaving the batch once its outcome is
    settled.  A batch gives each run the bytes it has alone, so the results
    are those of :func:`simulate` job by job, in less time.

    >>> jobs = [Job(CONFIGS / "quickstart.toml", ["lattice.shape=[24,24]", "simulation.steps=20",
    ...                                           f"simulation.seed={s}"]) for s in (1, 2)]
    >>> [r["final"] for r in simulate_batch(jobs)] == [simulate(j)["final"] for j in jobs]
    True
    """
    from ..backends import make_backend
    from ..config import load_config
    from ..observables import events_for, observables_for, scalar

    cfgs = [load_config(j.config, ["output.frame_every_steps=0", *j.overrides]) for j in jobs]
    be = make_backend("cpu", cfgs)
    names = observables_for(cfgs[0])
    def rows(events: dict) -> list[dict]:
        values = {**be.observe(), **events}
        return [{name: scalar(name, values[name][j]) for name in names} for j in range(len(be.active))]

    first = rows({k: np.zeros(len(cfgs), np.int64) for k in events_for(cfgs[0])})
    tracks = [_Track(j, c, o) for j, c, o in zip(jobs, cfgs, first)]
    for b, t in enumerate(tracks):
        if t.spatial_step == 0:
            t.spatial = _statistics(t.cfg, be.host_state(b))
    over = [b for b, t in enumerate(tracks) if t.cfg.simulation.steps <= 0]
    be.retire(over)
    while len(be.active):
        active = be.active.copy()
        obs = rows(be.step())
        over = []
        for j, b in enumerate(active):
            t, step = tracks[b], int(be.steps[b])
            if t.record(step, obs[j]):
                over.append(b)
            if step == t.spatial_step:
                t.spatial = _statistics(t.cfg, be.host_state(b))
        be.retire(over)
    return [t.result() for t in tracks]


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def run_jobs(jobs: list, processes: int, fn=None) -> list:
    """``fn`` (any module-level function) of every job, ``processes`` at a
    time (spawned workers: nothing of the parent's OpenMP state is
    inherited); by default (``fn`` None) :func:`simulate` of every job, the
    jobs of one batch key run as a few batches (:func:`simulate_batch`: the
    same results in less time), as many as there are processes."""
    if fn is None:
        from ..batch import group_by_shape
        from ..config import load_config

        cfgs = [load_config(j.config, j.overrides) for j in jobs]  # to group them (workers load their own)
        per_batch = -(-len(jobs) // max(processes, 1))
        batches = group_by_shape(cfgs, min(per_batch, MAX_BATCH))
        results = _map(simulate_batch, [[jobs[i] for i in g] for g in batches], processes)
        out = [None] * len(jobs)
        for g, res in zip(batches, results):
            for i, r in zip(g, res):
                out[i] = r
        return out
    return _map(fn, jobs, processes)


#: Runs per validate batch: enough to share the launches, few enough that a
#: batch's runs end near together and its memory stays small.
MAX_BATCH = 16


def _map(fn, items: list, processes: int) -> list:
    if processes <= 1 or len(items) <= 1:
        _init_worker()
        return [fn(i) for i in items]
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        return pool.map(fn, items, chunksize=1)
