"""Outcome labels from the trajectory: equilibrium only when the tumour is
held in check over the trailing window, progressing when it still grows."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from gpusim.outcome import OUTCOMES, classify


def _outcome(cells, days=None, **outcome):
    cells = np.asarray(cells)
    t = np.arange(len(cells), dtype=float) if days is None else np.asarray(days, float)
    return classify(make_config(outcome=outcome), t, cells, np.zeros(len(cells)))["outcome"]


def test_every_label_is_listed():
    assert _outcome([5, 0]) == "elimination" and _outcome([5, 30000]) == "escape"
    assert {_outcome([5, 5]), _outcome([5, 50])} == {"equilibrium", "progressing"}
    assert OUTCOMES == ("elimination", "equilibrium", "progressing", "escape")


def test_growing_below_escape_size_is_progressing():
    # The quickstart's shape: 100-fold growth, far below escape_cells.
    assert _outcome(np.geomspace(30, 3000, 31).astype(int)) == "progressing"


@pytest.mark.parametrize("cells, label", [
    ([100, 250, 60, 90, 150, 110, 200], "equilibrium"),   # fluctuates, final 200 <= 2 x 100
    ([100, 180, 120, 90, 150, 110, 201], "progressing"),  # final 201 > 2 x 100
    ([400, 300, 200, 100, 50, 40, 30], "equilibrium"),    # shrinking, not yet eliminated
])
def test_band_is_measured_from_the_windows_start(cells, label):
    assert _outcome(cells) == label


def test_only_the_trailing_window_counts():
    # Grew 10-fold early, flat over the last 10 days: held in check.
    days = np.arange(31.0)
    cells = np.concatenate([np.geomspace(10, 100, 11), np.full(20, 100)]).astype(int)
    assert _outcome(cells, days) == "equilibrium"
    assert _outcome(cells, days, equilibrium_window_days=30) == "progressing"


def test_band_and_window_come_from_the_config():
    cells = [100, 100, 130]
    assert _outcome(cells) == "equilibrium"
    assert _outcome(cells, equilibrium_band=0.2) == "progressing"
    assert _outcome([100, 300, 100, 100], equilibrium_window_days=1) == "equilibrium"
