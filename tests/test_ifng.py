"""IFN-gamma and adaptive PD-L1 (kernels/ifng.cu, gpusim/reference/ifng.py,
the coupling in tcell_kill): byte identity across backends, thread counts,
restarts and batches, and what the rule must do."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (assert_batch_equals_alone, assert_resume_equals_one_go, every_case_against_reference,
                      make_config, microenvironment_against_reference, random_microenvironment_config,
                      run_cpu_in_subprocess, run_state)

from gpusim.observables import observables_for
from gpusim.config import Config
from gpusim.simulation import Simulation
from gpusim.state import initial_state


@every_case_against_reference
def test_ifng_identical_to_numpy_reference(dim, neighbourhood, boundary, other):
    ref, ref_obs = microenvironment_against_reference(1700, dim, neighbourhood, boundary, other)
    induced = [o["induced_pdl1_cells"] for o in ref_obs]
    assert max(induced) > 0  # the rule is exercised: cells are induced ...
    assert any(b < a for a, b in zip(induced, induced[1:]))  # ... and lose it (or die)
    assert float(np.abs(ref.extra["ifng"]).max()) > 0 or ref_obs[-1]["tumour_cells"] == 0


@pytest.mark.parametrize("dim", [2, 3])
def test_ifng_cpu_identical_with_1_and_2_threads(dim):
    cfg = random_microenvironment_config(170 + dim, dim, "moore", "periodic", steps=80)
    assert run_cpu_in_subprocess(cfg, 1) == run_cpu_in_subprocess(cfg, 2)


def _inflamed(steps: int, arrest_minutes: float = 0.0, **ifng) -> Config:
    return make_config(
        simulation={"seed": 5, "steps": steps, "dt_minutes": 20.0},
        lattice={"shape": [48, 48]},
        tumour={"initial_radius_cells": 8.0, "initial_recognition": 0.5, "mutations_per_division": 0.0},
        immune={"initial_tcells": 60, "recruitment_rate_per_day": 10.0, "engagement_arrest_minutes": arrest_minutes},
        ifng={"enabled": True, **ifng},
        output={"frame_every_steps": 10, "checkpoint_every_steps": 15},
    )


@pytest.mark.parametrize("arrest_minutes", [0.0, 100.0])  # with T cells arrested on engagement too
@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_restart_of_an_ifng_run_is_byte_identical(tmp_path, backend, arrest_minutes):
    assert_resume_equals_one_go(tmp_path, _inflamed(25, arrest_minutes), _inflamed(50, arrest_minutes), backend)


def test_batched_ifng_runs_equal_runs_alone(tmp_path):
    # the last two with arrest on engagement (5 and 3 steps), the first without
    cfgs = [_inflamed(30 + 5 * i, arrest_minutes=(0.0, 100.0, 60.0)[i], loss_rate_per_day=1.0 + i,
                      induction_threshold=0.02 * (i + 1)) for i in range(3)]
    cfgs = [c.model_copy(update={"simulation": c.simulation.model_copy(update={"seed": 9 + i})})
            for i, c in enumerate(cfgs)]
    assert_batch_equals_alone(tmp_path, cfgs)


def test_off_by_default_adds_nothing():
    cfg = Config()
    assert "pdl1_induced" not in initial_state(cfg).sites and "ifng" not in initial_state(cfg).extra
    assert "induced_pdl1_cells" not in observables_for(cfg)
    assert "[ifng]" not in cfg.to_toml()


def test_induced_cells_lie_near_engaging_t_cells():
    """Induction follows the T cells: after 30 steps most induced cells have
    a T cell within 2 field cells' reach, and no cell is induced without T cells."""
    cfg = _inflamed(30)
    st, obs = run_state(cfg, "cpu")
    assert obs[-1]["induced_pdl1_cells"] > 0
    induced = np.flatnonzero(st.sites["pdl1_induced"])
    assert np.all(st.sites["clone"][induced] != 0)
    t = np.flatnonzero(st.sites["tcell"])
    nx = cfg.lattice.shape[0]
    d = np.hypot(induced[:, None] % nx - t[None, :] % nx, induced[:, None] // nx - t[None, :] // nx).min(axis=1)
    assert np.mean(d <= 8) > 0.9
    none = _inflamed(30).model_copy(update={"immune": _inflamed(30).immune.model_copy(
        update={"initial_tcells": 0, "recruitment_rate_per_day": 0.0})})
    _, obs0 = run_state(none, "cpu")
    assert max(o["induced_pdl1_cells"] for o in obs0) == 0


def test_induced_pdl1_protects_and_blockade_counters_it():
    """Adaptive resistance: with IFN-gamma on, an inflamed tumour loses fewer
    cells to T cells than without it; full blockade gives the kills back."""
    def kills(**extra):
        cfg = _inflamed(60)
        data = cfg.model_dump(mode="json")
        for k, v in extra.items():
            data[k] = v
        _, obs = run_state(Config.model_validate(data), "cpu")
        return sum(o["kills"] for o in obs)

    with_ifng = kills()
    without = kills(ifng={"enabled": False})
    blocked = kills(therapy=[{"kind": "checkpoint_blockade", "start_day": 0.0, "end_day": 100.0, "level": 1.0}])
    assert with_ifng < 0.6 * without, (with_ifng, without)
    assert blocked > 1.5 * with_ifng, (blocked, with_ifng)


def test_induced_pdl1_is_lost_once_exposure_stops():
    """A tumour with every cell induced and no T cells: the flags decay at
    loss_rate_per_day (expected fraction left exp(-rate t), 3 sigma)."""
    cfg = make_config(simulation={"seed": 3, "steps": 72, "dt_minutes": 20.0},
                      lattice={"shape": [40, 40]},
                      tumour={"initial_radius_cells": 12.0, "division_rate_per_day": 0.0, "death_rate_per_day": 0.0},
                      immune={"vessel_density": 0.0},
                      ifng={"enabled": True, "loss_rate_per_day": 1.0})
    st = initial_state(cfg)
    st.sites["pdl1_induced"][st.sites["clone"] != 0] = 1
    n0 = int((st.sites["clone"] != 0).sum())
    for backend in ("numpy", "cpu"):
        sim = Simulation(cfg, backend=backend, state=st)
        assert sim.last_observables["induced_pdl1_cells"] == n0
        left = sim.run()["induced_pdl1_cells"]
        p = np.exp(-1.0 * 72 * 20 / 1440)
        assert abs(left - n0 * p) < 3 * np.sqrt(n0 * p * (1 - p)), (left, n0 * p)
