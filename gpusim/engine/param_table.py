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
from ..params import ModelParams, step_params
from ..state import initial_params
from ..therapy import at_step


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
    """Runs that follow one therapy schedule from the same step: the
    schedule is evaluated once per step for all of them, and their Params
    change only when the therapy does (host work per step is per group,
    not per run)."""

    def __init__(self, cfg: Config, rows: list[int]):
        self.cfg = cfg
        self.rows = rows
        self.therapy = None

    def apply(self, table: ParamTable, mps: list[ModelParams], step: int) -> tuple:
        """Bring the group's Params to the therapy of ``step``; return the
        adoptive transfers due then (``((cells, where), ...)``)."""
        th = at_step(self.cfg, step)
        if th != self.therapy:
            self.therapy = th
            for b in self.rows:
                table.set_fields([b], **abi.params_values(step_params(mps[b], th)))
        return th.transfers


def therapy_groups(cfgs: list[Config], steps: np.ndarray) -> list[TherapyGroup]:
    """Runs grouped by (dt, therapy schedule, step)."""
    groups: dict[tuple, TherapyGroup] = {}
    for b, cfg in enumerate(cfgs):
        key = (cfg.simulation.dt_minutes, repr(cfg.therapy), int(steps[b]))
        groups.setdefault(key, TherapyGroup(cfg, [])).rows.append(b)
    return list(groups.values())
