"""T-cell rules (kernels/tcell.cu, gpusim/reference/tcell.py) and the full
model: byte identity across backends and thread counts, and the science
each rule must show."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (CASES, every_case_against_reference, make_config, random_full_config, run_against_reference,
                      run_cpu_in_subprocess, run_state)

from gpusim.simulation import Simulation
from gpusim.state import TCELL_PRESENT, initial_state

def totals(history: list[dict]) -> dict:
    return {k: sum(h[k] for h in history) for k in history[0]}


@every_case_against_reference
def test_full_model_identical_to_numpy_reference(dim, neighbourhood, boundary, other):
    cfg = random_full_config(2000 + CASES.index((dim, neighbourhood, boundary)), dim, neighbourhood, boundary)
    ref, ref_obs = run_against_reference(cfg, other)
    t = totals(ref_obs)
    # The case must exercise every rule.
    for event in ("kills", "recruited", "expansions", "transferred", "tcell_deaths", "divisions", "new_clones"):
        assert t[event] > 0, event
    assert max(o["tcells_exhausted"] for o in ref_obs) > 0
    assert max(o["pdl1_cells"] for o in ref_obs) > 0
    # The field is exercised: it holds chemokine, unless the tumour (its
    # source) died out and the field decayed below the floor (field.cuh).
    assert float(np.abs(ref.extra["chemokine"]).max()) > 0 or ref_obs[-1]["tumour_cells"] == 0


@pytest.mark.parametrize("dim", [2, 3])
def test_full_model_cpu_identical_with_1_and_2_threads(dim):
    cfg = random_full_config(99 + dim, dim, "moore", "closed")
    assert run_cpu_in_subprocess(cfg, 1) == run_cpu_in_subprocess(cfg, 2)


def test_tcells_spread_like_a_lattice_walk(backend):
    """No tumour, no chemokine, low density (2 %): each T cell's mean squared
    displacement grows linearly with the number of moves, with the lattice
    walk's slope: 1 site^2 per move for von Neumann (each move is one unit
    step).  1080 T cells, tolerance 10 % on the slope (about 3 standard
    errors); exclusion at 2 % density lowers it by a few per cent at most.

    T cells carry no identity, so the test labels them through their byte
    (kills 1-15 x exhaustion 0-7 = 120 labels, carried along by moves) in
    nine groups 150 sites apart: a cell is matched to the nearest start with
    its label."""
    n_side, spacing, box, moves_per_step, steps = 3, 150, 77, 4, 25
    size = n_side * spacing
    cfg = make_config(
        simulation={"seed": 8, "steps": steps, "dt_minutes": 10},
        lattice={"shape": [size, size], "neighbourhood": "von_neumann", "boundary": "periodic"},
        chemokine={"secretion_per_cell_per_min": 0.0, "kill_burst": 0.0},
        immune={"vessel_density": 0.0, "speed_um_per_min": moves_per_step, "lifespan_days": 1e9,
                "exhausted_death_rate_per_day": 0.0, "exhaustion_threshold": 7},
    )
    st = initial_state(cfg)
    st.sites["clone"][:] = 0
    st.sites["cell"][:] = 0
    st.clones["population"][:] = 0
    labels = np.array([TCELL_PRESENT | (e << 4) | k for k in range(1, 16) for e in range(8)], dtype=np.uint8)
    rng = np.random.default_rng(1)
    starts = np.zeros((256, n_side * n_side, 2), dtype=np.int64)  # [label byte, group] -> start (x, y)
    for g in range(n_side * n_side):
        cx, cy = (g // n_side) * spacing + spacing // 2, (g % n_side) * spacing + spacing // 2
        cells = rng.choice(box * box, len(labels), replace=False)
        x, y = cx - box // 2 + cells % box, cy - box // 2 + cells // box
        st.sites["tcell"][x + size * y] = labels
        starts[labels, g] = np.stack([x, y], axis=1)
    sim = Simulation(cfg, backend=backend, state=st)
    msd = []
    for _ in range(steps):
        sim.step()
        tc = sim.state().sites["tcell"]
        i = np.flatnonzero(tc)
        assert len(i) == 9 * len(labels)
        d = starts[tc[i]] - np.stack([i % size, i // size], axis=1)[:, None, :]  # to each start with the label
        d = (d + size // 2) % size - size // 2  # minimum image
        msd.append((d**2).sum(axis=2).min(axis=1).mean())
    moves = moves_per_step * np.arange(1, steps + 1)
    slope, intercept = np.polyfit(moves, msd, 1)
    residual = np.array(msd) - (slope * moves + intercept)
    assert abs(slope - 1.0) < 0.1, slope
    assert 1 - residual.var() / np.var(msd) > 0.98
    assert abs(intercept) < 5


@pytest.mark.parametrize("neighbourhood,moves", [("von_neumann", 1.0), ("von_neumann", 1.5),
                                                  ("von_neumann", 2.5), ("moore", 1.5)])
def test_tcell_msd_per_step_matches_configured_speed(backend, neighbourhood, moves):
    """speed dt / dx = m moves per step in expectation (the fractional last
    substep taken with probability = the fraction), so the mean squared
    displacement per step is m <l^2> dx^2: <l^2> = 1 (von Neumann) or 1.5
    (2D Moore).  30000 one-step displacements (gpusim.validate.rules);
    tolerance 3 % (at least 5 standard errors)."""
    from gpusim.validate.rules import MOVE_LENGTH2, msd_per_step

    expected = moves * MOVE_LENGTH2[neighbourhood]
    msd = msd_per_step(neighbourhood, moves, backend=backend)
    assert abs(msd / expected - 1) < 0.03, (msd, expected)


def test_no_immunity_no_kills_and_tumour_unchanged(backend):
    """With immunity switched off there are no T cells and no kills; and
    because every random draw is keyed by (site, step, phase), T cells that
    cannot recognise the tumour leave its trajectory byte-identical."""
    base = dict(
        simulation={"seed": 31, "steps": 150, "dt_minutes": 30},
        lattice={"shape": [40, 40]},
        tumour={"initial_radius_cells": 3, "division_rate_per_day": 3, "neoantigen_fraction": 0.0,
                "initial_recognition": 0.0, "stem_symmetric_division_prob": 0.7},
    )
    off, off_obs = run_state(make_config(**base, immune={"enabled": False}), backend)
    on, on_obs = run_state(make_config(**base, immune={"initial_tcells": 50, "vessel_density": 0.05,
                                                       "recruitment_rate_per_day": 20}), backend)
    assert all(o["kills"] == 0 and o["tcells"] == 0 and o["recruited"] == 0 for o in off_obs)
    assert all(o["kills"] == 0 for o in on_obs) and on_obs[-1]["tcells"] > 0
    for name in ("clone", "cell"):
        np.testing.assert_array_equal(off.sites[name], on.sites[name])
    assert [o["tumour_cells"] for o in off_obs] == [o["tumour_cells"] for o in on_obs]
    assert off_obs[-1]["tumour_cells"] > 200


@pytest.mark.parametrize("arrest_minutes", [0.0, 600.0])
def test_tcells_stay_where_they_engage(backend, arrest_minutes):
    """immune.engagement_arrest_minutes: beside a fully recognised tumour
    that does not grow, with a kill attempt every step, every T cell that
    starts in contact with it engages at once and is still on its site 3
    steps later (10 h of arrest at 15 min per step); without the rule most
    have moved."""
    from scipy import ndimage as ndi

    cfg = make_config(
        simulation={"seed": 3, "steps": 3, "dt_minutes": 15.0}, lattice={"shape": [24, 24], "neighbourhood": "moore"},
        tumour={"initial_radius_cells": 6, "initial_recognition": 1.0, "division_rate_per_day": 0.0,
                "death_rate_per_day": 0.0},
        immune={"vessel_density": 0.0, "initial_tcells": 60, "kill_attempt_rate_per_day": 1e5, "lifespan_days": 1e9,
                "kills_per_tcell": 15, "engagement_arrest_minutes": arrest_minutes})
    sim = Simulation(cfg, backend=backend)
    st = sim.state()
    contact = ndi.binary_dilation((st.sites["clone"] != 0).reshape(24, 24), np.ones((3, 3), bool)).ravel()
    start = np.flatnonzero((st.sites["tcell"] != 0) & contact)
    assert len(start) >= 10
    for _ in range(cfg.simulation.steps):
        sim.step()
    stayed = (sim.state().sites["tcell"][start] != 0).mean()
    assert stayed == 1.0 if arrest_minutes else stayed < 0.5


def test_arrest_off_by_default_adds_nothing():
    """No countdown array (no memory, nothing in checkpoints) unless the rule is on and T cells are."""
    assert "tcell_engaged" not in initial_state(make_config()).sites
    assert "tcell_engaged" in initial_state(make_config(immune={"engagement_arrest_minutes": 60.0})).sites
    assert "tcell_engaged" not in initial_state(make_config(immune={"enabled": False,
                                                                     "engagement_arrest_minutes": 60.0})).sites


def _exhausting(reinvigoration_rate_per_day: float, end_day: float):
    """60 T cells around a PD-L1-high tumour that every contact exhausts
    (a kill attempt per step, no deaths), full PD-1 blockade from step 48
    to ``end_day``: 15 min steps."""
    return make_config(
        simulation={"seed": 5, "steps": 144, "dt_minutes": 15.0}, lattice={"shape": [32, 32], "neighbourhood": "moore"},
        tumour={"initial_radius_cells": 8, "initial_recognition": 1.0, "initial_pdl1": True,
                "division_rate_per_day": 0.0, "death_rate_per_day": 0.0},
        immune={"vessel_density": 0.0, "initial_tcells": 60, "kill_attempt_rate_per_day": 1e5, "lifespan_days": 1e9,
                "exhausted_death_rate_per_day": 0.0, "kills_per_tcell": 15, "exhaustion_prob_per_pdl1_contact": 1.0,
                "reinvigoration_rate_per_day": reinvigoration_rate_per_day},
        therapy=[{"kind": "checkpoint_blockade", "start_day": 0.5, "end_day": end_day, "level": 1.0}])


def test_blockade_reinvigorates_exhausted_tcells_while_it_lasts(backend):
    """immune.reinvigoration_rate_per_day (Huang et al. 2017; Pauken et al.
    2016): nothing changes before the blockade; 3 h of it at 24 per day
    bring the exhausted T cells from ~44 to a few, where they stay ~44
    without the rule; after it ends, PD-L1 contacts exhaust them again."""
    start, end = 48, 60  # steps: blockade over days 0.5-0.625
    off = run_state(_exhausting(0.0, end / 96), backend)[1]
    on = run_state(_exhausting(24.0, end / 96), backend)[1]
    assert on[:start + 1] == off[:start + 1]
    before = on[start]["tcells_exhausted"]
    assert before >= 30
    assert on[end]["tcells_exhausted"] <= 0.1 * off[end]["tcells_exhausted"]
    assert on[-1]["tcells_exhausted"] > 0.5 * before  # not durable once the blockade is gone
    assert on[-1]["tumour_cells"] < 0.5 * off[-1]["tumour_cells"]  # the re-invigorated cells killed meanwhile


def test_reinvigoration_is_exercised_by_the_identity_configs():
    """random_full_config (every identity test) draws a re-invigoration
    rate; in its first case the rule changes the T-cell layer, so the
    numpy == cpu comparisons cover it."""
    from gpusim.config import apply_overrides

    cfg = random_full_config(2000, *CASES[0])
    assert cfg.immune.reinvigoration_rate_per_day > 0
    with_rule = run_state(cfg, "cpu")[0].sites["tcell"]
    without = run_state(apply_overrides(cfg, ["immune.reinvigoration_rate_per_day=0"]), "cpu")[0].sites["tcell"]
    assert not np.array_equal(with_rule, without)


def test_reinvigoration_off_by_default_leaves_stored_configs_alone():
    from gpusim.config import Config, apply_overrides

    assert Config().immune.reinvigoration_rate_per_day == 0.0
    assert "reinvigoration_rate_per_day" not in Config().to_toml()  # run files of configs without it keep their bytes
    assert "reinvigoration_rate_per_day = 2.0" in apply_overrides(
        Config(), ["immune.reinvigoration_rate_per_day=2"]).to_toml()
