"""Oxygen and hypoxia (kernels/oxygen.cu, gpusim/reference/oxygen.py, the
couplings in tumour_divide_propose and tcell_kill): byte identity across
backends, thread counts, restarts and batches, and what the rules must do."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (assert_batch_equals_alone, assert_resume_equals_one_go, every_case_against_reference,
                      make_config, microenvironment_against_reference, random_microenvironment_config,
                      run_against_reference, run_cpu_in_subprocess, run_state)

from gpusim.config import Config
from gpusim.observables import observables_for
from gpusim.state import initial_state


@every_case_against_reference
def test_oxygen_identical_to_numpy_reference(dim, neighbourhood, boundary, other):
    ref, ref_obs = microenvironment_against_reference(1900, dim, neighbourhood, boundary, other)
    assert float(ref.extra["oxygen_deficit"].max()) > 0  # tumour cells take oxygen up
    # Vessel-poor cases exercise hypoxia and necrosis; these do for sure (3D necrosis:
    # test_a_3d_spheroid_is_identical_to_numpy_reference).
    if (dim, neighbourhood) == (2, "moore"):
        assert max(o["hypoxic_cells"] for o in ref_obs) > 0
        assert sum(o["necroses"] for o in ref_obs) > 0 and max(o["necrotic_sites"] for o in ref_obs) > 0
    if (dim, neighbourhood, boundary) == (3, "von_neumann", "closed"):
        assert max(o["hypoxic_cells"] for o in ref_obs) > 0


@pytest.mark.parametrize("dim", [2, 3])
def test_oxygen_cpu_identical_with_1_and_2_threads(dim):
    cfg = random_microenvironment_config(190 + dim, dim, "moore", "closed", steps=80)
    assert run_cpu_in_subprocess(cfg, 1) == run_cpu_in_subprocess(cfg, 2)


def spheroid(steps: int, shape=(60, 60), radius: float = 20.0, **oxygen) -> Config:
    """A vessel-free tumour fed from the lattice faces (a spheroid in medium)."""
    return make_config(
        simulation={"seed": 4, "steps": steps, "dt_minutes": 30.0},
        lattice={"shape": list(shape)},
        tumour={"initial_radius_cells": radius, "mutations_per_division": 0.0},
        immune={"enabled": False},
        oxygen={"enabled": True, "boundary_supply": True, **oxygen},
        output={"frame_every_steps": 10, "checkpoint_every_steps": 15},
    )


@pytest.mark.parametrize("neighbourhood", ["von_neumann", "moore"])
def test_a_3d_spheroid_is_identical_to_numpy_reference(neighbourhood):
    """A vessel-free 3D tumour fed from the faces: hypoxia, necrosis, all identical."""
    cfg = spheroid(40, shape=(24, 24, 24), radius=9.0, uptake_per_cell_per_min=0.3, diffusion_um2_per_min=20.0,
                   hypoxia_mmHg=25.0, anoxia_mmHg=15.0)
    cfg = cfg.model_copy(update={"lattice": cfg.lattice.model_copy(update={"neighbourhood": neighbourhood})})
    _, obs = run_against_reference(cfg, "cpu")
    assert max(o["hypoxic_cells"] for o in obs) > 0 and sum(o["necroses"] for o in obs) > 0


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_restart_of_an_oxygen_run_is_byte_identical(tmp_path, backend):
    assert_resume_equals_one_go(tmp_path, spheroid(25), spheroid(50), backend)


def test_batched_oxygen_runs_equal_runs_alone(tmp_path):
    cfgs = [spheroid(30), spheroid(40, diffusion_um2_per_min=400.0), spheroid(35, uptake_per_cell_per_min=0.1)]
    assert_batch_equals_alone(tmp_path, cfgs)


def test_off_by_default_adds_nothing():
    cfg = Config()
    assert "necrotic" not in initial_state(cfg).sites and "oxygen_deficit" not in initial_state(cfg).extra
    assert not {"hypoxic_cells", "necrotic_sites", "necroses"} & set(observables_for(cfg))
    assert "[oxygen]" not in cfg.to_toml()


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="anoxia_mmHg <= hypoxia_mmHg"):
        Config.model_validate({"oxygen": {"anoxia_mmHg": 20.0, "hypoxia_mmHg": 10.0}})


def test_hypoxic_cells_do_not_divide_and_anoxic_ones_become_necrotic():
    """A large vessel-free tumour: the core goes anoxic and necrotic, the rim
    keeps dividing; no division happens in a hypoxic field cell."""
    cfg = spheroid(60)
    st, obs = run_state(cfg, "cpu")
    assert obs[-1]["hypoxic_cells"] > 0 and obs[-1]["necrotic_sites"] > 0
    assert sum(o["necroses"] for o in obs) == obs[-1]["necrotic_sites"] + \
        int(((st.sites["clone"] != 0) & (st.sites["necrotic"] != 0)).sum())
    nx = cfg.lattice.shape[0]
    necrotic = np.flatnonzero(st.sites["necrotic"])
    r_necrotic = np.hypot(necrotic % nx - 29.5, necrotic // nx - 29.5)
    live = np.flatnonzero(st.sites["clone"])
    r_live = np.hypot(live % nx - 29.5, live // nx - 29.5)
    assert np.median(r_necrotic) < np.median(r_live) - 5  # a necrotic core inside a viable rim
