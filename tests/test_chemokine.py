"""Chemokine field (kernels/field.cu, gpusim/reference/diffusion.py):
the point-source solution is the discrete heat kernel, mass is conserved,
decay and secretion have their rates, unstable configs are rejected."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from gpusim.config import validate
from gpusim.errors import InputError
from gpusim.params import model_params
from gpusim.simulation import Simulation
from gpusim.state import initial_state
from gpusim.validate.rules import discrete_heat_kernel


def field_config(shape, boundary="periodic", substeps=50, decay=0.0, secretion=0.0, coarsening=1, diffusion=100.0):
    return make_config(
        simulation={"seed": 1, "dt_minutes": 10},
        lattice={"shape": list(shape), "boundary": boundary},
        chemokine={"diffusion_um2_per_min": diffusion, "diffusion_substeps": substeps, "decay_per_min": decay,
                   "secretion_per_cell_per_min": secretion, "kill_burst": 0.0, "grid_coarsening": coarsening},
        immune={"vessel_density": 0.0},
    )


def empty_state(cfg):
    st = initial_state(cfg)
    st.sites["clone"][:] = 0
    st.sites["cell"][:] = 0
    st.clones["population"][:] = 0
    return st


def point_source(cfg, backend, mass=1000.0):
    st = empty_state(cfg)
    field = st.extra["chemokine"]
    centre = np.ravel_multi_index(tuple(s // 2 for s in reversed(cfg.lattice.shape)), tuple(reversed(cfg.lattice.shape)))
    field[centre] = mass
    return Simulation(cfg, backend=backend, state=st), centre


@pytest.mark.parametrize("shape,diffusion,substeps", [((41, 41), 100.0, 50), ((21, 21, 21), 30.0, 30)])
def test_point_source_is_discrete_heat_kernel(backend, shape, diffusion, substeps):
    """Tolerances: 1e-4 of the peak (float32 vs float64 FFT); variance within
    0.5 % (the periodic box clips tails beyond 4 standard deviations)."""
    cfg = field_config(shape, substeps=substeps, diffusion=diffusion)
    mp = model_params(cfg)
    sim, _ = point_source(cfg, backend)
    sim.step()
    got = sim.state().extra["chemokine"].reshape(tuple(reversed(shape))).astype(np.float64)
    want = discrete_heat_kernel(shape, float(mp.chem_alpha), mp.chem_substeps, 1000.0)
    assert np.abs(got - want).max() < 1e-4 * want.max()
    # Its variance per axis is that of the continuous kernel: 2 D t / dx^2.
    coords = np.meshgrid(*[np.arange(n) - n // 2 for n in reversed(shape)], indexing="ij")
    var = [float((got * c**2).sum() / got.sum()) for c in coords]
    expected = 2 * diffusion * 10 / 10.0**2
    assert np.allclose(var, expected, rtol=5e-3), var


def test_mass_conserved_with_closed_boundary_and_decays_at_its_rate(backend):
    cfg = field_config((20, 12), boundary="closed", substeps=50)
    sim, _ = point_source(cfg, backend)
    for _ in range(5):
        sim.step()  # the source reaches the walls: zero-flux boundary keeps the mass
    assert abs(float(sim.state().extra["chemokine"].sum(dtype=np.float64)) - 1000.0) < 1e-2
    cfg = field_config((20, 12), boundary="closed", substeps=50, decay=0.016)
    sim, _ = point_source(cfg, backend)
    sim.step()
    sim.step()
    got = float(sim.state().extra["chemokine"].sum(dtype=np.float64))
    assert abs(got - 1000.0 * np.exp(-0.016 * 20)) < 1e-2


def test_secretion_per_tumour_cell(backend):
    """D = 0, no decay: after one step a field cell holds secretion * dt *
    (tumour cells in it) / (sites per field cell)."""
    cfg = make_config(
        simulation={"dt_minutes": 10},
        lattice={"shape": [16, 16]},
        tumour={"initial_radius_cells": 1, "division_rate_per_day": 0, "death_rate_per_day": 0},
        chemokine={"diffusion_um2_per_min": 0.0, "decay_per_min": 0.0, "secretion_per_cell_per_min": 10.0,
                   "grid_coarsening": 4},
        immune={"vessel_density": 0.0},
    )
    sim = Simulation(cfg, backend=backend)
    clone = sim.state().sites["clone"].reshape(16, 16)
    sim.step()
    field = sim.state().extra["chemokine"].reshape(4, 4)
    counts = clone.reshape(4, 4, 4, 4).swapaxes(1, 2).reshape(4, 4, 16).astype(bool).sum(axis=2)
    np.testing.assert_allclose(field, counts * 10.0 * 10 / 16, rtol=1e-6)
    assert counts.sum() == 5


def test_unstable_substeps_rejected():
    with pytest.raises(InputError) as err:
        validate({"chemokine": {"diffusion_substeps": 10}}, "c.toml")
    msg = str(err.value)
    assert "chemokine.diffusion_substeps" in msg and "stability" in msg and "at least 25" in msg
    # The default picks the fewest stable substeps.
    assert model_params(validate({}, "c.toml")).chem_substeps == 25


def test_results_do_not_depend_on_flushing_subnormals():
    """The GPU flushes subnormal floats (CuPy compiles with -ftz=true); the
    host and NumPy do not.  A periodic Moore case whose far field decays into
    the subnormal range gives the same bytes on the cpu backend switched into
    the GPU's mode (FTZ + DAZ) as on the NumPy reference in IEEE mode."""
    import ctypes

    from conftest import CASES, assert_states_identical, random_full_config, run_state

    from gpusim.engine.host_build import build_library

    lib = ctypes.CDLL(str(build_library()))
    case = (2, "moore", "periodic")
    cfg = random_full_config(2000 + CASES.index(case), *case)
    sim = Simulation(cfg, backend="numpy")
    smallest = np.inf
    for _ in range(cfg.simulation.steps):
        sim.step()
        c = sim.backend.state.extra["chemokine"]
        smallest = min(smallest, c[c > 0].min(initial=np.inf))
    ref = sim.state()
    # The field decays to the floor: without it, differences and products
    # there are subnormal and the two float modes round them apart.
    assert smallest < 1e-29
    if not lib.gpusim_set_flush_subnormals(1):
        pytest.skip("flush-to-zero mode switch needs x86-64")
    try:
        got, _ = run_state(cfg, "cpu")
        flushed_ref, _ = run_state(cfg, "numpy")
    finally:
        lib.gpusim_set_flush_subnormals(0)
    assert_states_identical(ref, got)
    assert_states_identical(ref, flushed_ref)
