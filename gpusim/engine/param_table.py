"""The per-run parameter table of the kernel engine: one ``Params`` record
per run of a batch (kernels/abi.cuh), where kernels read it, uploaded only
when a field changed; and the therapy groups that update it.

Every change of a run's parameters goes through :meth:`ParamTable.set_fields`
(the therapy of a step, the step number, per-launch values): it writes the
host records and marks them dirty only when a value differs, so a step
whose therapy did not change uploads nothing for it.

>>> import numpy as np
>>> from gpusim.config import Config
>>> from gpusim.params import model_params
>>> cfg = Config()
>>> table = ParamTable([cfg], [model_params(cfg)])
>>> table.set_fields([0], p_kill_attempt=int(table.records["p_kill_attempt"][0]))  # unchanged: stays clean
False
>>> table.set_fields([0], n_new=5), int(table.records["n_new"][0])
(True, 5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import abi
from ..config import Config
from ..params import LEVEL_FIELDS, LevelRuns, ModelParams
from ..state import initial_params
from ..therapy import Patients, effect


def write_params(record: np.ndarray, **values) -> None:
    """Set fields of a one-run Params record; an array shorter than its
    field fills the front (the neighbour offsets), the rest stays 0."""
    for k, v in values.items():
        if np.ndim(v):
            record[k][0, : len(v)] = v
        else:
            record[k] = v


def run_params(cfg: Config, mp: ModelParams) -> np.ndarray:
    """One run's ``Params`` record: every field named like a ModelParams or
    InitialParams attribute (the rest are per step or per launch)."""
    P = abi.params_record()
    write_params(P, **abi.params_values(mp), **abi.params_values(initial_params(cfg)))
    return P


class ParamTable:
    """``Params`` records of every run of a batch (``records``, host), with
    dirty tracking: :meth:`buffer` hands kernels the records of the active
    runs, uploading them again only after :meth:`set_fields` changed one."""

    def __init__(self, cfgs: list[Config], mps: list[ModelParams]):
        self.records = np.concatenate([run_params(c, mp) for c, mp in zip(cfgs, mps)])
        self.current: Any = None  # the active runs' records where kernels read them; None = to upload

    def set_fields(self, rows, **values) -> bool:
        """Set Params fields of runs ``rows`` (a value, or one per row);
        returns whether anything changed (and will be uploaded)."""
        changed = False
        for k, v in values.items():
            col = self.records[k]
            new = np.asarray(v, dtype=col.dtype)
            if (col[rows] == new).all():
                continue
            col[rows] = new
            changed = True
        if changed:
            self.current = None
        return changed

    def invalidate(self) -> None:
        """The active runs changed: the next :meth:`buffer` is rebuilt."""
        self.current = None

    def buffer(self, device, active: np.ndarray, rows=None):
        """The records of ``rows`` (default: the ``active`` runs) where
        ``device``'s kernels read them."""
        if rows is not None:
            return device.params_buffer(self.records[rows])
        if self.current is None:
            all_active = len(active) == len(self.records)
            self.current = device.params_buffer(self.records if all_active else self.records[active])
        return self.current


class TherapyGroup:
    """Runs that follow one therapy schedule from the same step (each run
    its own patient and model parameters).  Each step the schedule is
    evaluated once for the group, as arrays over its runs
    (:func:`gpusim.therapy.effect`), and only the Params fields of levels
    that changed, in the runs where they changed, are written
    (:data:`gpusim.params.LEVEL_FIELDS`): a level that changes every step
    (an antibody's occupancy) rewrites a few scalars per run -- blockade
    thresholds, Treg depletion, the recruitment priming -- as one array
    operation over the runs; the 256-entry recruitment tables only when a
    window's multiplier moves.  A level is compared as the float64 the
    schedule gives.

    >>> from gpusim.config import Config
    >>> from gpusim.params import model_params
    >>> cfgs = [Config.model_validate({"simulation": {"dt_minutes": 1440}, "patient": {"body_weight_kg": w},
    ...     "therapy": [{"kind": "anti_pd1", "drug": "nivolumab", "dose_mg": 240, "start_day": 1}]})
    ...     for w in (60, 100)]
    >>> g = TherapyGroup(cfgs, [model_params(c) for c in cfgs], [0, 1])
    >>> for name in sorted(g.updates(0)[0]): print(name)   # step 0: every field, every run
    p_chemo_tcell
    p_chemo_tumour
    p_exhaust
    p_myeloid_deplete
    p_pdl1_pass
    p_reinvigorate
    p_treg_deplete
    recruit
    recruit_primed
    recruit_priming
    >>> sorted(g.updates(1)[0])           # the dose: only the blockade thresholds change
    ['p_exhaust', 'p_pdl1_pass', 'p_reinvigorate']
    """

    def __init__(self, cfgs: list[Config], mps: list[ModelParams], rows: list[int]):
        self.therapy = cfgs[0].therapy
        self.dt_days = cfgs[0].simulation.dt_days
        self.rows = np.asarray(rows, dtype=np.int64)
        self.patients = Patients([c.patient for c in cfgs])
        self.runs = LevelRuns(mps)
        self.levels: dict[str, np.ndarray] = {}

    def updates(self, step: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple]:
        """({Params field: (rows, values)} that change at ``step``, the
        adoptive transfers due (the same for every run of the group))."""
        if not self.therapy and self.levels:  # no schedule: the levels of the first step hold for good
            return {}, ()
        eff = effect(self.therapy, self.dt_days, step, self.patients)
        out = {}
        for level, fields in LEVEL_FIELDS:
            new = getattr(eff, level)
            old = self.levels.get(level)
            changed = np.arange(len(new)) if old is None else np.flatnonzero(new != old)
            if len(changed):
                self.levels[level] = new
                every = len(changed) == len(new)
                values = fields(self.runs if every else self.runs.take(changed), new if every else new[changed])
                out.update({k: (self.rows[changed], v) for k, v in values.items()})
        return out, tuple(eff.transfers)

    def apply(self, table: ParamTable, step: int) -> tuple:
        """Bring the group's Params to the therapy of ``step``; return the
        adoptive transfers due then (``((cells, where), ...)``)."""
        fields, due = self.updates(step)
        for name, (rows, values) in fields.items():
            table.set_fields(rows, **{name: values})
        return due


def therapy_groups(cfgs: list[Config], mps: list[ModelParams], steps: np.ndarray) -> list[TherapyGroup]:
    """Runs grouped by (dt, therapy schedule, step)."""
    members: dict[tuple, list[int]] = {}
    for b, cfg in enumerate(cfgs):
        key = (cfg.simulation.dt_minutes, repr(cfg.therapy), int(steps[b]))
        members.setdefault(key, []).append(b)
    return [TherapyGroup([cfgs[b] for b in rows], [mps[b] for b in rows], rows) for rows in members.values()]
