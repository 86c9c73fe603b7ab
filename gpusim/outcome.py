"""Outcome of a run (the three Es of immunoediting) and RECIST-like response.

* ``elimination``: no tumour cells left at the end;
* ``escape``: the tumour reached ``outcome.escape_cells`` cells at some
  step, or (closed boundary, ``escape_at_edge``) a tumour cell reached the
  lattice edge;
* ``equilibrium``: neither, by the end of the run.

Response, where a therapy is scheduled: tumour cells at the last recorded
step at or before the first therapy's start (baseline) against the last
recorded step at or before ``outcome.response_evaluation_day`` (default:
the end): ``CR`` no tumour cells; ``PR`` change <= -30 %; ``PD`` change >=
+20 %; ``SD`` otherwise; ``NE`` (not evaluable) with no tumour at baseline.

>>> import numpy as np
>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"therapy": [
...     {"kind": "adoptive_transfer", "day": 1.0, "cells": 10}]})
>>> t = np.array([0.0, 0.5, 1.0, 1.5, 2.0]); cells = np.array([10, 50, 100, 60, 40])
>>> classify(cfg, t, cells, np.zeros(5))
{'outcome': 'equilibrium', 'response': 'PR', 'tumour_change': -0.6}
"""

from __future__ import annotations

import numpy as np

from .therapy import therapy_start_day


def _at_or_before(times: np.ndarray, values: np.ndarray, day: float):
    idx = np.searchsorted(times, day + 1e-9, side="right") - 1
    return int(values[max(idx, 0)])


def classify(cfg, times, tumour_cells, edge_cells) -> dict:
    """Outcome (and response, tumour change) from the observables series."""
    times, cells = np.asarray(times, float), np.asarray(tumour_cells)
    oc = cfg.outcome
    if cells[-1] == 0:
        outcome = "elimination"
    elif cells.max() >= oc.escape_cells or (oc.escape_at_edge and np.asarray(edge_cells).max() > 0):
        outcome = "escape"
    else:
        outcome = "equilibrium"
    result = {"outcome": outcome}
    start = therapy_start_day(cfg)
    if start is not None:
        evaluate = oc.response_evaluation_day if oc.response_evaluation_day is not None else times[-1]
        base = _at_or_before(times, cells, start)
        final = _at_or_before(times, cells, evaluate)
        if base == 0:
            result.update(response="NE", tumour_change=float("nan"))
        else:
            change = (final - base) / base
            response = "CR" if final == 0 else "PR" if change <= -0.3 else "PD" if change >= 0.2 else "SD"
            result.update(response=response, tumour_change=round(change, 12))
    return result
