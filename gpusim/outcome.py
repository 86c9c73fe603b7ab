"""Outcome of a run (the three Es of immunoediting) and RECIST-like response.

* ``elimination``: no tumour cells left at the end;
* ``escape``: the tumour reached ``outcome.escape_cells`` cells at some
  step, or (closed boundary, ``escape_at_edge``) a tumour cell reached the
  lattice edge;
* ``equilibrium``: neither, and the tumour is held in check: over the
  trailing ``outcome.equilibrium_window_days`` its final size is at most
  (1 + ``outcome.equilibrium_band``) times its size at the window's start;
* ``progressing``: neither, and still growing beyond that band (growing,
  below escape size).

Response, where a therapy is scheduled, per RECIST 1.1 on the tumour's
diameter -- here the equivalent-sphere diameter, the diameter of the disc
(2D) or ball (3D) of the tumour's cell count, so that it is known at every
recorded step (the longest diameter, at the frames, is in
:mod:`gpusim.endpoints`): the last recorded step at or before the first
therapy's start (baseline) against the last recorded step at or before
``outcome.response_evaluation_day`` (default: the end): ``CR`` no tumour
cells; ``PR`` diameter change <= -30 %; ``PD`` diameter change >= +20 %;
``SD`` otherwise; ``NE`` (not evaluable) with no tumour at baseline or when
the first therapy starts at or after the run's end.  The thresholds are
:data:`PR_CHANGE` and :data:`PD_CHANGE`; in cells they are -51 % / +44 % in
2D and -66 % / +73 % in 3D.  ``tumour_change`` stays the relative change
in cells.

>>> import numpy as np
>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"therapy": [
...     {"kind": "adoptive_transfer", "day": 1.0, "cells": 10}]})
>>> t = np.array([0.0, 0.5, 1.0, 1.5, 2.0]); cells = np.array([10, 50, 100, 60, 20])
>>> classify(cfg, t, cells, np.zeros(5))       # 2D: -80 % cells is -55 % diameter
{'outcome': 'equilibrium', 'response': 'PR', 'tumour_change': -0.8}
>>> classify(cfg, t, [10, 20, 40, 80, 160], np.zeros(5))["outcome"]
'progressing'
"""

from __future__ import annotations

import numpy as np

from .therapy import therapy_start_day

#: Outcome labels, from best to worst for the patient.
OUTCOMES = ("elimination", "equilibrium", "progressing", "escape")
#: RECIST-like response labels.
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
#: Relative change in diameter at or below which the response is PR (RECIST 1.1: -30 %).
PR_CHANGE = -0.3
#: Relative change in diameter (from the nadir) at or above which the response is PD (RECIST 1.1: +20 %).
PD_CHANGE = 0.2
#: Slack of the threshold comparisons: a cell count exactly at a threshold
#: (0.7^2 x baseline) is not pushed across it by the rounding of the root.
_SLACK = 1e-12


def value_at(times: np.ndarray, values: np.ndarray, day: float) -> int:
    """The value recorded at the last time at or before ``day`` (the first one if none)."""
    idx = np.searchsorted(times, day + 1e-9, side="right") - 1
    return int(values[max(idx, 0)])


def tumour_change(times, cells, start_day: float, evaluation_day: float | None = None) -> tuple[int, int, float]:
    """(baseline, final, relative change) of the tumour cell count from
    ``start_day`` to ``evaluation_day`` (default: the last record); the
    change is NaN when there was no tumour at baseline.

    >>> tumour_change([0.0, 1.0, 2.0], [10, 40, 20], 1.0)
    (40, 20, -0.5)
    """
    times, cells = np.asarray(times, float), np.asarray(cells)
    base = value_at(times, cells, start_day)
    final = value_at(times, cells, times[-1] if evaluation_day is None else evaluation_day)
    return base, final, (final - base) / base if base else float("nan")


def held_in_check(oc, times: np.ndarray, cells: np.ndarray) -> bool:
    """True when the final size is within the equilibrium band over the trailing window."""
    window = cells[times >= times[-1] - oc.equilibrium_window_days - 1e-9]
    return bool(window[-1] <= (1.0 + oc.equilibrium_band) * window[0])


def diameter_change(cell_change: float, dim: int) -> float:
    """Relative change of the equivalent-sphere diameter for a relative
    change ``cell_change`` in cells (diameter ~ cells^(1/dim)).

    >>> round(diameter_change(-0.51, 2), 4), round(diameter_change(0.728, 3), 4)
    (-0.3, 0.2)
    """
    return (1.0 + cell_change) ** (1.0 / dim) - 1.0


def response_of(change: float, final: int, dim: int) -> str:
    """RECIST 1.1 response from the relative change in cells, the final
    count (baseline > 0) and the lattice's dimension (on the
    equivalent-sphere diameter)."""
    if final == 0:
        return "CR"
    d = diameter_change(change, dim)
    return "PR" if d <= PR_CHANGE + _SLACK else "PD" if d >= PD_CHANGE - _SLACK else "SD"


def escaped(oc, tumour_cells, edge_cells) -> bool:
    """Whether the tumour has escaped (``outcome.escape_cells`` reached, or
    a tumour cell at the edge under ``escape_at_edge``) by the step or
    steps given: one step's counts or their whole series."""
    return bool(np.max(tumour_cells) >= oc.escape_cells or (oc.escape_at_edge and np.max(edge_cells) > 0))


def classify(cfg, times, tumour_cells, edge_cells) -> dict:
    """Outcome (and response, tumour change) from the observables series."""
    times, cells = np.asarray(times, float), np.asarray(tumour_cells)
    oc = cfg.outcome
    if cells[-1] == 0:
        outcome = "elimination"
    elif escaped(oc, cells, edge_cells):
        outcome = "escape"
    elif held_in_check(oc, times, cells):
        outcome = "equilibrium"
    else:
        outcome = "progressing"
    result = {"outcome": outcome}
    start = therapy_start_day(cfg)
    if start is not None:
        base, final, change = tumour_change(times, cells, start, oc.response_evaluation_day)
        if base == 0 or start >= times[-1]:  # no tumour at baseline, or no therapy within the run
            result.update(response="NE", tumour_change=float("nan"))
        else:
            result.update(response=response_of(change, final, cfg.lattice.dim), tumour_change=round(change, 12))
    return result
