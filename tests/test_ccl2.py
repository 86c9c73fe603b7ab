"""The CCL2-like field (component ccl2: one gpusim.components.diffusing_field
entry on the shared kernels/field.cu): byte identity with the NumPy twin,
its secretion and decay rates, off by default."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config, run_against_reference, run_state

from gpusim.config import Config
from gpusim.state import initial_state


def ccl2_config(steps: int, dim: int = 2, boundary: str = "closed", **ccl2) -> Config:
    shape = [30, 26] if dim == 2 else [12, 10, 11]
    return make_config(
        simulation={"seed": 5, "steps": steps, "dt_minutes": 15.0},
        lattice={"shape": shape, "boundary": boundary},
        tumour={"initial_radius_cells": 4.0},
        chemokine={"grid_coarsening": 2},
        ccl2={"enabled": True, **ccl2},
    )


@pytest.mark.parametrize("dim,boundary", [(2, "closed"), (3, "periodic")])
def test_ccl2_identical_to_numpy_reference(dim, boundary):
    ref, _ = run_against_reference(ccl2_config(12, dim, boundary, diffusion_um2_per_min=300.0), "cpu")
    c = ref.extra["ccl2"]
    assert c.dtype == np.float32 and np.count_nonzero(c) == c.size, "diffused over the whole grid"


def test_secretion_then_decay_over_one_step():
    """Closed lattice: diffusion moves mass, never makes it; one step adds
    secretion x dt per tumour cell (per field-cell volume) and then decays."""
    cfg = ccl2_config(1, secretion_per_cell_per_min=4.0, decay_per_min=0.02)
    cells = int(np.count_nonzero(initial_state(cfg).sites["clone"]))
    st, _ = run_state(cfg, "cpu", steps=1)
    want = cells * 4.0 * 15.0 / 2**2 * np.exp(-0.02 * 15.0)
    assert st.extra["ccl2"].astype(np.float64).sum() == pytest.approx(want, rel=1e-5)


def test_off_by_default_adds_nothing():
    cfg = Config()
    assert "ccl2" not in initial_state(cfg).extra
    assert "[ccl2]" not in cfg.to_toml()
