"""Tumour rules (kernels/tumour.cu, gpusim/reference/tumour.py): byte
identity across backends and thread counts, and the science they must show."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (CASES, assert_states_identical, every_case_against_reference, make_config,
                      random_tumour_config, run_against_reference, run_cpu_in_subprocess, run_state)
from scipy import ndimage

from gpusim.state import CLONE_HLA, CLONE_PDL1


@every_case_against_reference
def test_backend_identical_to_numpy_reference(dim, neighbourhood, boundary, other):
    cfg = random_tumour_config(1000 + CASES.index((dim, neighbourhood, boundary)), dim, neighbourhood, boundary)
    ref, ref_obs = run_against_reference(cfg, other)
    assert ref_obs[-1]["tumour_cells"] > 0 and ref.n_clones > 10, "the case must exercise the rules"
    assert ref.clone_table()["mutations"].max() >= 3, "several mutations per division must occur"
    assert sum(o["divisions"] for o in ref_obs) > 100 and sum(o["deaths"] for o in ref_obs) > 20


@pytest.mark.parametrize("dim", [2, 3])
def test_cpu_identical_with_1_and_2_threads(dim):
    cfg = random_tumour_config(77 + dim, dim, "moore", "periodic")
    one, two = run_cpu_in_subprocess(cfg, 1), run_cpu_in_subprocess(cfg, 2)
    assert len(one["clone_parent"]) > 10 * 8
    assert one == two


def mutation_run(backend: str, mu: float, fraction: float, seed: int):
    """A fast-dividing, dying tumour on a periodic lattice: > 10^4 divisions."""
    cfg = make_config(
        simulation={"seed": seed, "steps": 360, "dt_minutes": 60},
        lattice={"shape": [72, 72], "boundary": "periodic"},
        tumour={"initial_radius_cells": 4, "division_rate_per_day": 4, "death_rate_per_day": 1,
                "stem_symmetric_division_prob": 1.0, "mutations_per_division": mu,
                "neoantigen_fraction": fraction, "pdl1_prob_per_division": 0.02,
                "hla_loss_prob_per_division": 0.01},
        immune={"enabled": False},
    )
    return run_state(cfg, backend)


@pytest.mark.parametrize("mu,fraction", [(0.3, 0.25), (2.5, 0.6)])
def test_mutations_per_division_are_poisson_and_neoantigens_binomial(backend, mu, fraction):
    """Each daughter gains k ~ Poisson(mu) new mutations: over D divisions
    the mean and the variance of k are mu (z within +-4, with Var(mean) =
    mu / D and Var(sample variance) = (mu + 2 mu^2) / D for a Poisson law);
    each mutation is a neoantigen with probability `fraction`: the
    neoantigens gained are Binomial(total mutations, fraction)."""
    st, obs = mutation_run(backend, mu, fraction, seed=4)
    divisions = sum(o["divisions"] for o in obs)
    assert divisions >= 10_000
    t = st.clone_table()
    ids = np.arange(2, st.n_clones)
    parents = t["parent"][ids]
    k = t["mutations"][ids].astype(np.int64)
    # Daughters with k = 0 found no clone unless they escaped: they are the rest of D.
    mean = k.sum() / divisions
    var = (k**2).sum() / divisions - mean**2
    z_mean = (mean - mu) / np.sqrt(mu / divisions)
    z_var = (var - mu) / np.sqrt((mu + 2 * mu**2) / divisions)
    assert abs(z_mean) < 4 and abs(z_var) < 4, (mean, var, z_mean, z_var)
    assert k.max() >= 2, "several mutations in one division must occur"
    np.testing.assert_array_equal(t["mutations_total"][ids], t["mutations_total"][parents] + k)
    gained = (t["neoantigens"][ids] - t["neoantigens"][parents]).astype(np.int64)
    assert np.all(gained <= k)
    n = int(k.sum())
    z_neo = (gained.sum() - n * fraction) / np.sqrt(n * fraction * (1 - fraction))
    assert abs(z_neo) < 4, z_neo
    # A clone is founded by k >= 1 or an escape event (which may repeat a
    # flag the lineage already has); escapes stay separate from k.
    assert np.all((k >= 1) | (t["flags"][ids] != 0))
    assert np.any((k == 0) & (t["flags"][ids] != 0))
    assert st.n_clones - 2 == sum(o["new_clones"] for o in obs)
    # TMB: mean acquired mutations per live tumour cell, from the clone table.
    pop = t["population"].astype(np.int64)
    assert obs[-1]["tmb"] == pytest.approx((pop * t["mutations_total"]).sum() / pop.sum(), rel=1e-12)
    assert obs[-1]["neoantigen_load"] == pytest.approx((pop * t["neoantigens"]).sum() / pop.sum(), rel=1e-12)


def test_no_mutations_at_zero_rate():
    st, obs = mutation_run("cpu", 0.0, 1.0, seed=5)
    t = st.clone_table()
    assert sum(o["divisions"] for o in obs) > 10_000
    assert not t["mutations"].any() and not t["neoantigens"].any() and obs[-1]["tmb"] == 0.0
    assert st.n_clones > 2, "escape events still found clones"


def test_clone_table_consistent(backend):
    cfg = random_tumour_config(5, 2, "von_neumann", "closed", steps=300)
    st, obs = run_state(cfg, backend)
    t = st.clone_table()
    clone = st.sites["clone"]
    # Live populations sum to the tumour cell count and match the lattice.
    counts = np.bincount(clone, minlength=st.n_clones)
    np.testing.assert_array_equal(t["population"][1:], counts[1:])
    assert int(t["population"][1:].sum()) == int(np.count_nonzero(clone)) == obs[-1]["tumour_cells"]
    assert obs[-1]["live_clones"] == int(np.count_nonzero(t["population"][1:]))
    # Every parent exists and is older than its child.
    ids = np.arange(2, st.n_clones)
    parents = t["parent"][ids]
    assert np.all((parents >= 1) & (parents < ids))
    assert np.all(t["birth_step"][parents] <= t["birth_step"][ids])
    not_founder = parents >= 2
    assert np.all(t["birth_step"][parents[not_founder]] < t["birth_step"][ids[not_founder]])
    # Children inherit escape flags and never lose neoantigens or recognition.
    assert np.all((t["flags"][ids] & t["flags"][parents]) == t["flags"][parents])
    assert np.all(t["neoantigens"][ids] >= t["neoantigens"][parents])
    assert np.all(t["recognition"][ids] >= t["recognition"][parents])
    assert np.any(t["flags"] & CLONE_PDL1) and np.any(t["flags"] & CLONE_HLA)


@pytest.mark.parametrize("dim,neighbourhood", [(2, "von_neumann"), (2, "moore"), (3, "von_neumann")])
def test_growth_without_death_fills_lattice_as_one_mass(backend, dim, neighbourhood):
    shape = [24, 24] if dim == 2 else [10, 10, 10]
    cfg = make_config(
        simulation={"seed": 3, "dt_minutes": 60},
        lattice={"shape": shape, "neighbourhood": neighbourhood},
        tumour={"initial_radius_cells": 0, "division_rate_per_day": 12, "death_rate_per_day": 0,
                "stem_symmetric_division_prob": 1.0},
        immune={"enabled": False},
    )
    from gpusim.simulation import Simulation

    sim = Simulation(cfg, backend=backend)
    structure = ndimage.generate_binary_structure(dim, 1 if neighbourhood == "von_neumann" else dim)
    previous = 1
    for _ in range(400):
        obs = sim.step()
        occupied = (sim.state().sites["clone"] > 0).reshape(tuple(reversed(shape)))
        _, n_parts = ndimage.label(occupied, structure=structure)
        assert n_parts == 1, "the mass must stay connected"
        assert obs["tumour_cells"] >= previous, "no death: the count never falls"
        previous = obs["tumour_cells"]
        if occupied.all():
            break
    assert occupied.all(), f"lattice not filled: {occupied.sum()} of {occupied.size}"


def test_no_division_without_room():
    """A cell surrounded on every side cannot divide (closed boundary, full lattice)."""
    cfg = make_config(lattice={"shape": [6, 6]}, simulation={"steps": 5}, immune={"enabled": False},
                      tumour={"initial_radius_cells": 10, "death_rate_per_day": 0, "division_rate_per_day": 100})
    st, obs = run_state(cfg, "cpu")
    assert all(o["divisions"] == 0 for o in obs)
    assert int(np.count_nonzero(st.sites["clone"])) == 36


def test_non_stem_cells_stop_after_max_divisions():
    cfg = make_config(
        simulation={"steps": 400, "dt_minutes": 60},
        lattice={"shape": [41, 41]},
        tumour={"initial_radius_cells": 0, "initial_cells_stem": False, "max_divisions": 3,
                "division_rate_per_day": 24, "death_rate_per_day": 0},
        immune={"enabled": False},
    )
    st, obs = run_state(cfg, "numpy")
    # A non-stem founder with 3 divisions left yields at most 2**3 cells, and
    # every cell ends with no divisions left (no death, plenty of room).
    assert int(np.count_nonzero(st.sites["clone"])) == 8
    assert np.all(st.sites["cell"][st.sites["clone"] > 0] == 0)


def test_new_clone_ids_in_site_order_across_chunk_groups():
    """The device numbering of new clones (chunks of 1024 sites, groups of
    1024 chunks: kernels/tumour.cu) on a lattice of several groups, with new
    clones in most chunks: the same ids as the reference's site-order scan."""
    from gpusim.backends import make_backend
    from gpusim.bench import bench_config, bench_state

    cfg = bench_config((1100, 1000), "tumour")  # 1.1e6 sites: 1075 chunks, 2 groups
    states = {}
    for backend in ("numpy", "cpu"):
        be = make_backend(backend, cfg, bench_state(cfg))
        founded = [be.step()["new_clones"] for _ in range(2)]
        states[backend] = be.host_state()
    assert min(founded) > 5000
    assert_states_identical(states["numpy"], states["cpu"])
