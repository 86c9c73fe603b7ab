"""The therapy schedule, evaluated on the host at each step (DESIGN §4 step 1).

Windows (checkpoint blockade, vaccine) are active in a step whose start time
t satisfies start_day <= t < end_day; one-off events (adoptive transfer,
chemotherapy pulse) happen in the step whose interval [t, t + dt) contains
their day.  Overlapping blockade courses take the highest level; vaccine
multipliers multiply.

>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"therapy": [
...     {"kind": "checkpoint_blockade", "start_day": 1, "end_day": 2, "level": 0.8}]})
>>> at_step(cfg, 0).blockade, at_step(cfg, 144).blockade
(0.0, 0.8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import Config


@dataclass(frozen=True)
class StepTherapy:
    blockade: float = 0.0
    recruitment_multiplier: float = 1.0
    chemo_tumour_kill_prob: float = 0.0
    chemo_tcell_kill_prob: float = 0.0
    transfers: tuple = ()  # ((cells, where), ...)
    #: Regulatory T-cell depletion level (0-1, anti-CTLA-4 occupancy): Tregs
    #: die at tregs.depletion_rate_per_day x this (gpusim.params.step_params).
    treg_depletion: float = 0.0


def step_interval(cfg: Config, step: int) -> tuple[float, float]:
    """[t0, t1) of ``step`` in days."""
    dt = cfg.simulation.dt_days
    return step * dt, (step + 1) * dt


def at_step(cfg: Config, step: int) -> StepTherapy:
    t0, t1 = step_interval(cfg, step)
    blockade, multiplier, chemo_t, chemo_c, depletion = 0.0, 1.0, 0.0, 0.0, 0.0
    transfers = []
    for entry in cfg.therapy:
        if entry.kind == "checkpoint_blockade" and entry.start_day <= t0 < entry.end_day:
            blockade = max(blockade, entry.level)
        elif entry.kind == "vaccine" and entry.start_day <= t0 < entry.end_day:
            multiplier *= entry.recruitment_multiplier
        elif entry.kind == "chemotherapy" and t0 <= entry.day < t1:
            # Two pulses in one step combine as independent kills.
            chemo_t = 1 - (1 - chemo_t) * (1 - entry.tumour_kill_prob)
            chemo_c = 1 - (1 - chemo_c) * (1 - entry.tcell_kill_prob)
        elif entry.kind == "adoptive_transfer" and t0 <= entry.day < t1:
            transfers.append((entry.cells, entry.where))
        elif entry.kind == "ctla4_blockade" and entry.start_day <= t0 < entry.end_day:
            depletion = max(depletion, entry.level)
            multiplier *= 1.0 + entry.level * (entry.priming_multiplier - 1.0)
    return StepTherapy(blockade, multiplier, chemo_t, chemo_c, tuple(transfers), depletion)


def first_step(cfg: Config, entry) -> int | None:
    """The first step in which ``entry`` acts, by the rules of :func:`at_step`
    (None for an empty window).

    >>> cfg = Config.model_validate({"simulation": {"dt_minutes": 60, "steps": 24}, "therapy": [
    ...     {"kind": "chemotherapy", "day": 1.5, "tumour_kill_prob": 0.5}]})
    >>> first_step(cfg, cfg.therapy[0])
    36
    >>> print(*unreached(cfg))
    therapy[0] (chemotherapy) acts at day 1.5 (step 36), after the run's end (day 1, 24 steps): it never applies
    """
    dt = cfg.simulation.dt_days
    if hasattr(entry, "start_day"):  # a window: the first step whose start time t0 >= start_day
        k = max(0, math.ceil(entry.start_day / dt) - 1)
        while k * dt < entry.start_day:  # settle rounding exactly as at_step compares
            k += 1
        return k if k * dt < entry.end_day else None
    k = max(0, math.floor(entry.day / dt) + 1)  # an event: the step whose [t0, t1) holds day
    while k > 0 and k * dt > entry.day:
        k -= 1
    return k


def unreached(cfg: Config) -> list[str]:
    """One line per therapy entry that never acts within ``simulation.steps``
    (the run is still valid: ``gpusim resume --steps`` may reach it)."""
    steps, end = cfg.simulation.steps, cfg.simulation.steps * cfg.simulation.dt_days
    lines = []
    for n, entry in enumerate(cfg.therapy):
        k = first_step(cfg, entry)
        day = getattr(entry, "start_day", getattr(entry, "day", None))
        if k is None:
            lines.append(f"therapy[{n}] ({entry.kind}): its window [{day:g}, {entry.end_day:g}) holds no "
                         "step start: it never applies")
        elif k >= steps:
            lines.append(f"therapy[{n}] ({entry.kind}) acts at day {day:g} (step {k}), after the run's end "
                         f"(day {end:.4g}, {steps} steps): it never applies")
    return lines


def therapy_start_day(cfg: Config) -> float | None:
    """When the first therapy begins (None without a schedule)."""
    starts = [getattr(e, "start_day", getattr(e, "day", None)) for e in cfg.therapy]
    return min(starts) if starts else None
