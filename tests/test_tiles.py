"""Active tiles (kernels/tiles.cuh, kernels/tiles.cu, gpusim/engine/tiles.py):
stepping only the tiles that hold cells gives the same bytes as stepping
every site, and each run's device list is exactly its occupied tiles, in
tile order."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (CASES, QUICKSTART, SMALL_QUICKSTART, assert_same_run, assert_states_identical, gpusim,
                      random_full_config, random_microenvironment_config, require_backend, run_state)

from gpusim.engine import tiles

STEPS = 100


def with_tiles(cfg, on: bool):
    return cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"active_tiles": on})})


@pytest.mark.parametrize("dim,neighbourhood,boundary", CASES)
def test_tiles_on_and_off_identical(dim, neighbourhood, boundary):
    """Every rule and therapy on (adoptive transfer, chemotherapy included), T cells moving."""
    require_backend("cpu")
    cfg = random_full_config(2000 + CASES.index((dim, neighbourhood, boundary)), dim, neighbourhood, boundary,
                             steps=STEPS)
    on, on_obs = run_state(with_tiles(cfg, True), "cpu")
    off, off_obs = run_state(with_tiles(cfg, False), "cpu")
    assert_states_identical(on, off)
    assert on_obs == off_obs
    assert sum(o["divisions"] for o in on_obs) > 10 and on_obs[-1]["tcells"] > 0, "the case must exercise the rules"


@pytest.mark.parametrize("dim,neighbourhood,boundary", [(2, "moore", "closed"), (3, "von_neumann", "periodic")])
def test_tiles_on_and_off_identical_with_the_microenvironment(dim, neighbourhood, boundary):
    """IFN-gamma, regulatory T cells (dense phases, moves committed from the
    target side that share the claim array with the tiled CD8 moves,
    committed from the source side) and oxygen (necrosis empties tiles
    mid-step) with tiles on and off: the same bytes."""
    require_backend("cpu")
    cfg = random_microenvironment_config(2100 + dim, dim, neighbourhood, boundary, steps=80)
    on, on_obs = run_state(with_tiles(cfg, True), "cpu")
    off, off_obs = run_state(with_tiles(cfg, False), "cpu")
    assert_states_identical(on, off)
    assert on_obs == off_obs
    assert on_obs[-1]["tregs"] > 0 and on_obs[-1]["tcells"] > 0, "the case must exercise the rules"


def occupied_tiles(state, cfg) -> np.ndarray:
    """First sites of the tiles holding a tumour cell or a T cell, in tile
    order, from the host state (what the device list holds)."""
    nx, ny, nz = (list(cfg.lattice.shape) + [1])[:3]
    geo = tiles.geometry((nx, ny, nz), len(cfg.lattice.shape))
    bx, by = geo["tile_bits_x"], geo["tile_bits_y"]
    bz = tiles.TILE_BITS - bx - by
    held = (state.sites["clone"] != 0) | (state.sites["tcell"] != 0)
    i = np.flatnonzero(held)
    x, y, z = i % nx, (i // nx) % ny, i // (nx * ny)
    t = np.unique((x >> bx) + geo["tnx"] * ((y >> by) + geo["tny"] * (z >> bz)))
    tx, ty, tz = t % geo["tnx"], (t // geo["tnx"]) % geo["tny"], t // (geo["tnx"] * geo["tny"])
    return (tx << bx) + nx * ((ty << by) + ny * (tz << bz))


@pytest.mark.parametrize("dim", [2, 3])
def test_the_list_is_the_occupied_tiles_in_order(dim):
    """After each step's sweep, each run of a batch lists exactly its
    occupied tiles, in tile order; retired runs keep theirs."""
    require_backend("cpu")
    from gpusim.engine.backend import KernelBackend
    from gpusim.engine.device import CpuDevice

    base = random_full_config(3000 + dim, dim, "moore", "closed", steps=STEPS)
    cfgs = [base.model_copy(update={"simulation": base.simulation.model_copy(update={"seed": s})})
            for s in (11, 12, 13)]
    be = KernelBackend(CpuDevice(), cfgs)
    fractions = []
    for step in range(30):
        be.step()
        if step == 10:
            be.retire([1])
        fractions.append(tiles.active_fraction(be))
        state = be.device.to_host(be.tile_state)
        for b in be.active:
            n = int(state[b, tiles.COUNT])
            listed = be.device.to_host(be.tile_list)[b, :n]
            np.testing.assert_array_equal(listed, occupied_tiles(be.host_state(b), cfgs[b]), err_msg=f"run {b}")
    assert 0 < np.concatenate(fractions).min() < 1


def test_run_files_identical_with_tiles_on_and_off(tmp_path):
    """``gpusim run`` on cpu: the same run file byte for byte (the switch is not stored)."""
    require_backend("cpu")
    args = ["run", QUICKSTART, "--backend", "cpu", "-q", *SMALL_QUICKSTART, "--steps", "120"]
    on, off = tmp_path / "on.h5", tmp_path / "off.h5"
    assert gpusim(*args, "-o", on).returncode == 0
    assert gpusim(*args, "-o", off, "--set", "simulation.active_tiles=false").returncode == 0
    assert_same_run(off, on)


@pytest.mark.parametrize("dim", [2, 3])
def test_a_full_lattice_steps_every_site_identically(dim):
    """Most tiles active (a tumour filling the box): per-site phases visit
    every site (tiles.cuh phase_site); still the same bytes as dense stepping."""
    require_backend("cpu")
    from gpusim.engine.backend import KernelBackend
    from gpusim.engine.device import CpuDevice

    cfg = random_full_config(4000 + dim, dim, "von_neumann", "closed", steps=40)
    cfg = cfg.model_copy(update={"tumour": cfg.tumour.model_copy(update={"initial_radius_cells": 40.0})})
    be = KernelBackend(CpuDevice(), with_tiles(cfg, True))
    assert tiles.active_fraction(be)[0] >= 7 / 8
    on, on_obs = run_state(with_tiles(cfg, True), "cpu")
    off, off_obs = run_state(with_tiles(cfg, False), "cpu")
    assert_states_identical(on, off)
    assert on_obs == off_obs


def test_bench_tiles_reports_both_and_the_fraction(capsys):
    import json

    from conftest import assert_one_line_error, cli

    require_backend("cpu")
    proc = cli(capsys, "bench", "--tiles", QUICKSTART, "--set", "lattice.shape=[48,48]", "--steps", "3",
               "--backend", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)[0]
    assert rec["tiles_s"] > 0 and rec["dense_s"] > 0 and rec["speedup"] == rec["dense_s"] / rec["tiles_s"]
    assert 0 < rec["active_fraction_mean"] <= 1 and rec["shape"] == [48, 48]
    assert "active tiles" in proc.stderr
    assert_one_line_error(cli(capsys, "bench", "--tiles", QUICKSTART, "--backend", "numpy"), "--tiles", "numpy")
