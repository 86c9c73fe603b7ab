"""Therapy schedules and immune selection: the schedule's effect in each
step, PD-L1 enrichment under immune pressure, and checkpoint blockade's
effect on PD-L1-high tumours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_config

from gpusim.config import load_config
from gpusim.outcome import classify
from gpusim.simulation import Simulation
from gpusim.therapy import at_step, first_step, therapy_start_day, unreached
from gpusim.validate.runs import Job, run_jobs

CONFIGS = Path(__file__).parents[1] / "configs"


def test_schedule_windows_and_pulses():
    cfg = make_config(simulation={"dt_minutes": 60}, therapy=[
        {"kind": "checkpoint_blockade", "start_day": 1, "end_day": 2, "level": 0.5},
        {"kind": "checkpoint_blockade", "start_day": 1.5, "end_day": 3, "level": 0.8},
        {"kind": "vaccine", "start_day": 0, "end_day": 1, "recruitment_multiplier": 2},
        {"kind": "vaccine", "start_day": 0.5, "end_day": 1, "recruitment_multiplier": 3},
        {"kind": "chemotherapy", "day": 1.01, "tumour_kill_prob": 0.5, "tcell_kill_prob": 0.2},
        {"kind": "adoptive_transfer", "day": 2.5, "cells": 7, "where": "anywhere"},
    ])
    assert at_step(cfg, 0).recruitment_multiplier == 2 and at_step(cfg, 12).recruitment_multiplier == 6
    assert at_step(cfg, 24).blockade == 0.5 and at_step(cfg, 36).blockade == 0.8
    assert at_step(cfg, 72).blockade == 0.0
    assert at_step(cfg, 24).chemo_tumour_kill_prob == 0.5 and at_step(cfg, 25).chemo_tumour_kill_prob == 0
    assert at_step(cfg, 60).transfers == ((7, "anywhere"),) and at_step(cfg, 59).transfers == ()
    assert therapy_start_day(cfg) == 0


def test_response_rules():
    cfg = make_config(therapy=[{"kind": "vaccine", "start_day": 1, "end_day": 2, "recruitment_multiplier": 2}])
    t = np.arange(5.0)
    judge = lambda cells: classify(cfg, t, np.array(cells), np.zeros(5))  # noqa: E731
    assert judge([5, 100, 90, 0, 0]) == {"outcome": "elimination", "response": "CR", "tumour_change": -1.0}
    # RECIST 1.1 on the (equivalent-sphere) diameter of a 2D tumour: cells ~ diameter^2
    assert judge([5, 100, 90, 80, 49])["response"] == "PR"  # -51 % cells = -30 % diameter
    assert judge([5, 100, 90, 80, 50])["response"] == "SD"
    assert judge([5, 100, 90, 80, 70])["response"] == "SD"  # -30 % cells: a PR by count, not by diameter
    assert judge([5, 100, 90, 80, 144])["response"] == "PD"  # +44 % cells = +20 % diameter
    assert judge([5, 100, 90, 80, 143])["response"] == "SD"
    cfg3 = make_config(lattice={"shape": [20, 20, 20]}, therapy=[
        {"kind": "vaccine", "start_day": 1, "end_day": 2, "recruitment_multiplier": 2}])
    judge3 = lambda cells: classify(cfg3, t, np.array(cells), np.zeros(5))["response"]  # noqa: E731
    assert (judge3([5, 1000, 0, 0, 343]), judge3([5, 1000, 0, 0, 344]), judge3([5, 1000, 0, 0, 1728]),
            judge3([5, 1000, 0, 0, 1727])) == ("PR", "SD", "PD", "SD")
    cfg.outcome.escape_cells = 120
    assert judge([5, 100, 90, 80, 120])["outcome"] == "escape"
    assert classify(cfg, t, np.array([5, 5, 5, 5, 5]), np.array([0, 0, 1, 0, 0]))["outcome"] == "escape"


def test_chemotherapy_pulse_kills_tumour_and_tcells(backend):
    cfg = make_config(
        simulation={"dt_minutes": 60, "seed": 5},
        lattice={"shape": [60, 60]},
        tumour={"initial_radius_cells": 15, "division_rate_per_day": 0, "death_rate_per_day": 0},
        immune={"initial_tcells": 1000, "vessel_density": 0, "lifespan_days": 1e9, "kill_attempt_rate_per_day": 0},
        therapy=[{"kind": "chemotherapy", "day": 0.5, "tumour_kill_prob": 0.4, "tcell_kill_prob": 0.25}],
    )
    sim = Simulation(cfg, backend=backend)
    before = sim.last_observables
    for step in range(24):
        obs = sim.step()
        if step != 12:
            assert obs["deaths"] == 0 and obs["tcell_deaths"] == 0
    n, m = before["tumour_cells"], before["tcells"]
    survivors, t_survivors = obs["tumour_cells"], obs["tcells"]
    # Binomial survival, 4 standard deviations.
    assert abs((n - survivors) - 0.4 * n) < 4 * np.sqrt(n * 0.24)
    assert abs((m - t_survivors) - 0.25 * m) < 4 * np.sqrt(m * 0.1875)


def _runs(cfg_path, seeds, *overrides, to_end: bool = True) -> list[dict]:
    """Each seed's run as one cpu batch (byte-identical to the runs alone)
    through validate's cohort runner: its outcome and, with ``to_end``, its
    final observables after every configured step (else it stops once its
    outcome is settled)."""
    return run_jobs([Job(cfg_path, [f"simulation.seed={seed}", *overrides], to_end=to_end) for seed in seeds], 1)


@pytest.mark.slow
def test_pdl1_clones_enriched_under_immune_pressure():
    """The same tumours (seeds) with and without T cells: immune pressure
    selects PD-L1-high clones, so their share of the tumour is higher with
    immunity in at least 4 of 5 seeds and on average."""
    base = CONFIGS / "immunoediting_equilibrium.toml"
    extra = ["tumour.pdl1_prob_per_division=0.005", "tumour.initial_recognition=0.1", "simulation.steps=1920"]
    seeds = range(1, 6)
    with_immunity = [r["final"]["pdl1_cells"] / max(r["final"]["tumour_cells"], 1) for r in _runs(base, seeds, *extra)]
    without = [r["final"]["pdl1_cells"] / r["final"]["tumour_cells"]
               for r in _runs(base, seeds, *extra, "immune.enabled=false")]
    wins = sum(a > b for a, b in zip(with_immunity, without))
    assert wins >= 4 and np.mean(with_immunity) > 2 * np.mean(without), (with_immunity, without)


@pytest.mark.slow
def test_checkpoint_blockade_raises_elimination_of_pdl1_tumours():
    """PD-L1-high tumours, 10 seeds each arm: blockade eliminates more."""
    base = CONFIGS / "checkpoint_blockade.toml"
    small = ["lattice.shape=[70,70]", "simulation.steps=1920", "outcome.escape_cells=1500"]
    # each run stops once it is cleared or has escaped (its outcome is settled then)
    untreated = [r["final_cells"] == 0 for r in _runs(base, range(1, 11), *small, "therapy=[]", to_end=False)]
    treated = [r["final_cells"] == 0 for r in _runs(base, range(1, 11), *small, to_end=False)]
    assert sum(treated) >= sum(untreated) + 5, (sum(untreated), sum(treated))


@pytest.mark.parametrize("dt", [7.0, 10.0, 60.0])
def test_first_step_agrees_with_the_schedule(dt):
    days = [0.0, 0.3, 1.0, 1.25, 2.0 / 3.0, 2.5]
    therapy = [{"kind": "chemotherapy", "day": d, "tumour_kill_prob": 0.5} for d in days] + \
        [{"kind": "vaccine", "start_day": d, "end_day": d + 0.01, "recruitment_multiplier": 2.0} for d in days]
    cfg = make_config(simulation={"dt_minutes": dt, "steps": 1000}, therapy=therapy)
    for entry in cfg.therapy:
        only = make_config(simulation={"dt_minutes": dt}, therapy=[entry.model_dump()])
        acts = [k for k in range(600) if at_step(only, k) != at_step(make_config(), k)]
        assert first_step(cfg, entry) == (acts[0] if acts else None), entry


def test_therapy_after_the_end_warns_and_response_is_ne(tmp_path, caplog):
    from gpusim.cli.main import main

    out = tmp_path / "late.h5"
    rc = main(["run", str(CONFIGS / "checkpoint_blockade.toml"), "-o", str(out), "--backend", "numpy", "-q",
               "--set", "lattice.shape=[30,30]", "--steps", "50"])
    assert rc == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["warning: therapy[0] (checkpoint_blockade) acts at day 5 (step 480), after the run's "
                        "end (day 0.5208, 50 steps): it never applies"]
    import h5py

    with h5py.File(out) as f:
        assert f.attrs["response"] == "NE" and np.isnan(f.attrs["tumour_change"])
    assert unreached(load_config(CONFIGS / "checkpoint_blockade.toml")) == []


def test_no_code_asks_a_therapy_what_kind_it_is():
    """Therapies are types: each kind's schedule, effect, plot and rules live
    in its class (gpusim/therapy.py), so no module switches on ``kind`` or
    probes an entry with ``hasattr``."""
    import re

    import gpusim

    switch = re.compile(r"(?<!dtype)\.kind\s*(==|!=|\bin\b)|hasattr\(\s*(entry|e|therapy|t)\b")  # not numpy dtypes
    root = Path(gpusim.__file__).parent
    hits = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
            for n, line in enumerate(p.read_text().splitlines(), 1) if switch.search(line)]
    assert hits == []
