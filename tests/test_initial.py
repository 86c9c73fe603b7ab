"""The state at step 0 built by kernels (kernels/initial.cu,
gpusim/engine/initial.py) equals the NumPy twin (gpusim/state.py
initial_state), byte for byte, in 2D and 3D with vessels and initial T
cells; the kernel backends touch no per-site data on the host to build it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_states_identical, make_config, require_backend

from gpusim.backends import make_backend
from gpusim.state import initial_state

KERNEL_BACKENDS = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def start_config(shape, radius, tcells, vessels=0.05, boundary="closed", seed=7, stem=True):
    return make_config(
        simulation={"seed": seed},
        lattice={"shape": list(shape), "boundary": boundary},
        tumour={"initial_radius_cells": radius, "initial_cells_stem": stem, "max_divisions": 5,
                "initial_recognition": 0.4, "initial_pdl1": True},
        immune={"vessel_density": vessels, "initial_tcells": tcells},
    )


CASES = [
    ((40, 31), 4.5, 50, 0.05, "closed", True),
    ((40, 31), 0.0, 0, 0.0, "periodic", False),  # one founder, no vessels, no T cells
    ((17, 13, 11), 3.2, 120, 0.1, "periodic", True),
    ((16, 16, 16), 2.0, 16 * 16 * 16, 0.02, "closed", False),  # as many T cells as sites: every site (more is refused)
    ((50, 50), 60.0, 2000, 0.5, "closed", True),  # the ball covers the lattice
]


@pytest.mark.parametrize("shape,radius,tcells,vessels,boundary,stem", CASES)
@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_device_built_state_equals_the_reference(backend, shape, radius, tcells, vessels, boundary, stem):
    require_backend(backend)
    cfg = start_config(shape, radius, tcells, vessels, boundary, stem=stem)
    ref = initial_state(cfg)
    be = make_backend(backend, cfg)  # no state given: built by kernels
    got = be.host_state()
    assert_states_identical(ref, got)
    np.testing.assert_array_equal(got.clones["population"][:2], ref.clones["population"][:2])
    assert int((ref.sites["tcell"] != 0).sum()) == min(tcells, cfg.lattice.n_sites)
    assert int(ref.sites["vessel"].sum()) > 0 or vessels == 0
    claim = be.device.to_host(be.claim)
    assert (claim == np.uint64(0xFFFFFFFFFFFFFFFF)).all(), "claim[] must be all ones after the build"


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_observables_at_step_0_equal_the_reference(backend):
    require_backend(backend)
    from gpusim.simulation import Simulation

    cfg = start_config((30, 20), 40.0, 25)  # founders reach the edge: edge_cells counts them
    got = Simulation(cfg, backend=backend).last_observables
    want = Simulation(cfg, backend="numpy").last_observables
    assert got == want and got["edge_cells"] > 0 and got["tcells"] == 25


def test_start_up_touches_no_per_site_host_data(monkeypatch):
    """The cpu backend's build never calls the NumPy twin, nor NumPy's
    Philox, nor a sort of every site."""
    import gpusim.rng
    import gpusim.state

    def forbidden(*args, **kwargs):
        raise AssertionError("host-side per-site work at start-up")

    monkeypatch.setattr(gpusim.state, "initial_state", forbidden)
    monkeypatch.setattr(gpusim.rng, "draw", forbidden)
    monkeypatch.setattr(np, "argsort", forbidden)
    monkeypatch.setattr(np, "sort", lambda a, *args, **kw: forbidden() if len(a) > 1000 else np.asarray(
        sorted(a.tolist()), dtype=a.dtype))
    cfg = start_config((100, 100), 10.0, 200, 0.05)
    be = make_backend("cpu", cfg)
    assert int((be.state.sites["tcell"] != 0).sum()) == 200
