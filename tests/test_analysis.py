"""gpusim.open_run (observables, lazy frames, clone table) and the clonal
analysis (variant allele frequencies, the 1/f neutrality fit)."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import datasets, make_config, write_unfinished_run

import gpusim
from gpusim.analysis import clonal
from gpusim.io.frames import FIELDS
from gpusim.observables import observables_for


def test_open_run_reads_everything_in_the_quickstart_file(quickstart_run):
    raw = datasets(quickstart_run)
    with gpusim.open_run(quickstart_run) as run:
        assert run.status == "complete" and run.steps == 300 and run.shape == (60, 60)
        assert run.config.lattice.shape == (60, 60) and run.backend == "numpy"
        obs = run.observables
        assert isinstance(obs, pd.DataFrame) and obs.index.name == "time"
        recorded = observables_for(run.config)  # the quickstart's components' (none of the microenvironment)
        assert list(obs.columns) == ["step", *recorded]
        np.testing.assert_array_equal(obs["step"], np.arange(301))
        np.testing.assert_allclose(obs.index, np.arange(301) * 10 / 1440)
        for name in recorded:
            np.testing.assert_array_equal(obs[name], raw[f"observables/{name}/value"])
        ds = run.observables_xarray()
        assert isinstance(ds, xr.Dataset) and ds["tumour_cells"].attrs["unit"] == "cells"
        np.testing.assert_array_equal(ds["step"], obs["step"])
        assert run.fields == [name for name in FIELDS if FIELDS[name].source in ("clone", "tcell", "chemokine")]
        for name in run.fields:
            frames = run.frames(name)
            assert list(frames.steps) == [0, 144, 288, 300] and len(frames) == 4
            assert isinstance(frames._value, h5py.Dataset)  # lazy: nothing read up front
            for k in range(len(frames)):
                assert frames[k].tobytes() == raw[f"fields/{name}/value"][k].tobytes()
            assert frames.at_step(144).tobytes() == frames[1].tobytes()
            assert frames[-1].tobytes() == frames[3].tobytes() and frames[1:3].shape == (2, *frames.shape)
            with pytest.raises(IndexError):
                frames[4]
        clones = run.clones
        assert clones.index.name == "id" and list(clones.index) == list(raw["clones/id"])
        for col in ("parent", "birth_step", "neoantigens", "recognition", "flags", "population"):
            np.testing.assert_array_equal(clones[col], raw[f"clones/{col}"])
        np.testing.assert_allclose(clones["r"], raw["clones/recognition"] / 2**32)
        # The clone table and the last frame tell the same story.
        last = run.frames("tumour_clone")[-1]
        np.testing.assert_array_equal(np.bincount(last.ravel(), minlength=len(clones))[1:],
                                      clones["population"].to_numpy()[1:])
        assert run.checkpoint().step == 300


def test_open_run_on_a_run_that_did_not_finish(tmp_path):
    """No /clones yet (a killed run): the table comes from the last checkpoint."""
    cfg = make_config(lattice={"shape": [20, 20]}, output={"frame_every_steps": 5, "checkpoint_every_steps": 10})
    write_unfinished_run(tmp_path / "run.h5", cfg, 17)  # status running, no clone table, rows 16-17 never written
    with gpusim.open_run(tmp_path / "run.h5") as run:
        assert run.status == "running" and run.steps == 15  # rows are flushed with frames and checkpoints
        assert run.clones_step == 10
        assert int(run.clones["population"].sum()) == int(run.observables.loc[run.observables.step == 10,
                                                                              "tumour_cells"].iloc[0])


def test_vaf_is_subtree_population_over_twice_the_tumour():
    #        1 (3 cells)
    #       / \
    #      2   3 (0 cells, extinct leaf)
    #     / \
    #    4   5
    parent = np.array([0, 0, 1, 1, 2, 2])
    population = np.array([0, 3, 1, 0, 2, 4])
    np.testing.assert_array_equal(clonal.subtree_populations(parent, population), [0, 10, 7, 0, 2, 4])
    np.testing.assert_allclose(clonal.variant_allele_frequencies(parent, population), [0.35, 0.0, 0.1, 0.2])
    np.testing.assert_array_equal(clonal.clone_depths(parent), [0, 1, 2, 2, 3, 3])


def test_neutral_fit_recovers_mu_over_beta():
    """VAFs laid out so that M(f) = k (1/f - 1/fmax) + 1 exactly on [fmin, fmax]."""
    k, fmin, fmax = 400.0, 0.12, 0.24
    j = np.arange(0, int(k * (1 / fmin - 1 / fmax)) + 50)
    vaf = 1 / (1 / fmax + j / k)
    fit = clonal.neutral_fit(np.concatenate([vaf, [0.3, 0.45]]), fmin, fmax)  # clonal ones beyond fmax ignored
    assert fit.slope == pytest.approx(k, rel=0.02) and fit.r_squared > 0.999
    assert fit.n_mutations == int(((vaf >= fmin) & (vaf <= fmax)).sum())
    # A non-neutral shape (one big subclone cluster) fits badly.
    bad = clonal.neutral_fit(np.full(300, 0.2), fmin, fmax)
    assert bad.r_squared < 0.9


def test_run_vaf_and_fit_from_a_run(tmp_path):
    cfg = make_config(simulation={"steps": 300, "dt_minutes": 30.0}, lattice={"shape": [40, 40]},
                      tumour={"mutations_per_division": 1.5, "stem_symmetric_division_prob": 0.9,
                              "max_divisions": 30, "death_rate_per_day": 0.0, "division_rate_per_day": 3.0},
                      output={"frame_every_steps": 0})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    with gpusim.open_run(tmp_path / "run.h5") as run:
        vaf = run.vaf()
        # One VAF per acquired mutation: clone c's frequency repeated mutations[c] times.
        assert len(vaf) == int(run.clones["mutations"].sum()) > len(run.clones) - 2
        assert (vaf.index.value_counts().sort_index() == run.clones["mutations"][run.clones["mutations"] > 0]).all()
        assert (vaf <= 0.5).all() and (vaf > 0).sum() > 20
        fit = run.neutral_fit(0.02, 0.2)
        assert fit.slope > 0 and 0 <= fit.r_squared <= 1 and fit.n_mutations > 0
        assert len(run.frames("tumour_clone")) == 0  # frames switched off: an empty dataset


def test_neutral_fit_warns_when_the_band_holds_too_few_mutations():
    from gpusim.analysis.clonal import MIN_FIT_MUTATIONS, neutral_fit

    vaf = np.array([0.012, 0.005, 0.004])  # the quickstart's shape: one dominant founder, tiny subclones
    with pytest.warns(RuntimeWarning, match=r"0 mutation\(s\) with VAF in \[0.12, 0.24\] \(largest VAF 0.012\)"):
        fit = neutral_fit(vaf, 0.12, 0.24)
    assert np.isnan(fit.r_squared) and fit.n_mutations == 0
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough mutations: no warning
        assert neutral_fit(1 / rng.uniform(1 / 0.5, 1 / 0.01, 20000)).n_mutations >= MIN_FIT_MUTATIONS
    with pytest.raises(ValueError, match="grid step"):
        neutral_fit(vaf, 0.0001, 0.01)
