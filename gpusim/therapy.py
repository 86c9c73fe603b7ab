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

from dataclasses import dataclass

from .config import Config


@dataclass(frozen=True)
class StepTherapy:
    blockade: float = 0.0
    recruitment_multiplier: float = 1.0
    chemo_tumour_kill_prob: float = 0.0
    chemo_tcell_kill_prob: float = 0.0
    transfers: tuple = ()  # ((cells, where), ...)


def step_interval(cfg: Config, step: int) -> tuple[float, float]:
    """[t0, t1) of ``step`` in days."""
    dt = cfg.simulation.dt_days
    return step * dt, (step + 1) * dt


def at_step(cfg: Config, step: int) -> StepTherapy:
    t0, t1 = step_interval(cfg, step)
    blockade, multiplier, chemo_t, chemo_c = 0.0, 1.0, 0.0, 0.0
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
    return StepTherapy(blockade, multiplier, chemo_t, chemo_c, tuple(transfers))


def therapy_start_day(cfg: Config) -> float | None:
    """When the first therapy begins (None without a schedule)."""
    starts = [getattr(e, "start_day", getattr(e, "day", None)) for e in cfg.therapy]
    return min(starts) if starts else None
