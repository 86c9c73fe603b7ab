"""Many short runs at once: the virtual cohorts behind ``gpusim validate``.

A job is a config file plus ``--set`` overrides; each runs on the cpu
backend (one OpenMP thread) in a worker process and comes back as a few
numbers: its outcome (gpusim.outcome.classify, the run file's rule), the
tumour change from a given day (RECIST-like response, for untreated arms
too) and state observables at that day and at the end.  A run stops early
once its outcome can no longer change (no tumour cell left, or escape).

>>> r = simulate(Job(CONFIGS / "quickstart.toml", ["lattice.shape=[24,24]", "simulation.steps=20"]))
>>> r["outcome"] in ("elimination", "equilibrium", "progressing", "escape"), r["days"] > 0
(True, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..scenarios import config_dir

#: The shipped scenario configs (in the wheel, or a source checkout's configs/ folder).
CONFIGS = config_dir()


@dataclass(frozen=True)
class Job:
    config: str | Path
    overrides: list[str] = field(default_factory=list)
    from_day: float | None = None  # tumour change and observables from this day (default: first therapy start)
    spatial: bool = False  # also the spatial statistics of the lattice at that day (state_statistics)


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
    from ..analysis import spatial
    from ..analysis.table import oxygen_settings
    from ..io.frames import field_array, field_specs

    cfg, st = sim.cfg, sim.state()
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


def simulate(job: Job) -> dict:
    """Run one job to its end (or until its outcome is settled)."""
    from ..config import load_config
    from ..outcome import classify, response_of, therapy_start_day, tumour_change
    from ..simulation import Simulation

    cfg = load_config(job.config, ["output.frame_every_steps=0", *job.overrides])
    sim = Simulation(cfg, backend="cpu")
    dt_days = cfg.simulation.dt_minutes / 1440.0
    obs = sim.last_observables
    times, cells, edge, at_day = [0.0], [obs["tumour_cells"]], [obs["edge_cells"]], dict(obs)
    divisions = 0
    from_day = job.from_day if job.from_day is not None else therapy_start_day(cfg)
    # the spatial statistics of the last step at or before from_day (as at_day)
    spatial_step = None if not job.spatial or from_day is None else int(from_day / dt_days + 1e-9)
    spatial = state_statistics(sim) if spatial_step == 0 else None
    for _ in range(cfg.simulation.steps):
        obs = sim.step()
        divisions += obs["divisions"]
        times.append(sim.step_count * dt_days)
        cells.append(obs["tumour_cells"])
        edge.append(obs["edge_cells"])
        if from_day is not None and times[-1] <= from_day:
            at_day = dict(obs)
        if sim.step_count == spatial_step:
            spatial = state_statistics(sim)
        escaped = cells[-1] >= cfg.outcome.escape_cells or (cfg.outcome.escape_at_edge and edge[-1] > 0)
        if (cells[-1] == 0 or escaped) and (from_day is None or times[-1] > from_day):
            break
    result = classify(cfg, times, cells, edge)
    daily = np.searchsorted(times, np.arange(0.0, times[-1] + 1e-9, 1.0))
    result.update(days=times[-1], final_cells=cells[-1], final=dict(obs), at_day=at_day, divisions=divisions,
                  max_cells=int(np.max(cells)), curve=(np.asarray(times)[daily], np.asarray(cells)[daily]))
    if job.spatial:
        result["spatial"] = spatial  # None when the run ended before from_day
    if from_day is not None and "response" not in result:
        base, final, change = tumour_change(np.array(times), np.array(cells), from_day)
        result.update(response=response_of(change, final, cfg.lattice.dim) if base else "NE",
                      tumour_change=change)
    return result


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def run_jobs(jobs: list, processes: int, fn=simulate) -> list:
    """``fn`` (default :func:`simulate`; any module-level function) of every
    job, ``processes`` at a time (spawned workers: nothing of the parent's
    OpenMP state is inherited)."""
    if processes <= 1 or len(jobs) <= 1:
        _init_worker()
        return [fn(j) for j in jobs]
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        return pool.map(fn, jobs, chunksize=1)
