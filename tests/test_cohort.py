"""Cohort analysis of a sweep directory: the end-state immune phenotype in
summary.h5, summarize and the sweep plot; cohort curves (spaghetti and
Kaplan-Meier per arm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import cli, gpusim
from sweep_util import CONTROL, arms_toml, write_sweep

from gpusim.analysis import spatial
from gpusim.sweepdir import store

# Two arms that differ: the treated arm gets a strong chemotherapy pulse on day 0.5.
COHORT = """
seed = 11
replicates = 3
[[grid]]
key = "immune.recruitment_rate_per_day"
values = [0.05, 5.0]
""" + arms_toml(CONTROL, {"name": "chemo", "therapy": [{"kind": "chemotherapy", "day": 0.5, "tumour_kill_prob": 0.8}]})
COHORT_SET = {"lattice.shape": [40, 40], "simulation.steps": 216, "tumour.initial_radius_cells": 6.0,
              "output.frame_every_steps": 36}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """12 runs: 2 recruitment rates x 2 arms x 3 replicates, 1.5 days on 40 x 40."""
    tmp = tmp_path_factory.mktemp("cohort")
    out = tmp / "cohort"
    proc = gpusim("sweep", write_sweep(tmp, COHORT, COHORT_SET), "-o", out, "--backend", "cpu", "-q")
    assert proc.returncode == 0, proc.stderr
    return out


def test_summary_has_the_end_state_phenotype_of_each_run(cohort):
    import gpusim as g

    table = pd.read_hdf(cohort / "summary.h5", "runs")
    assert {"phenotype", "tcell_density_core_per_mm2", "tcell_density_margin_per_mm2"} <= set(table.columns)
    for row in table.itertuples():
        with g.open_run(store.run_path(cohort, row.run_id)) as run:
            clone, tcells = run.frames("tumour_clone")[-1], run.frames("tcells")[-1]
            expected = spatial.frame_statistics(clone, tcells, 10.0, run.config.analysis)
        assert row.phenotype == expected["phenotype"]
        assert row.tcell_density_core_per_mm2 == pytest.approx(expected["tcell_density_core_per_mm2"], nan_ok=True)
    assert set(table["phenotype"]) <= {*spatial.PHENOTYPES, spatial.NOT_EVALUABLE}
    assert (table["phenotype"] != spatial.NOT_EVALUABLE).any()


def test_summarize_and_plot_show_phenotypes(cohort, tmp_path, capsys):
    proc = cli(capsys, "summarize", cohort)
    assert proc.returncode == 0, proc.stderr
    # The per-arm table's last column block (tables fit 100 columns) ends with the phenotype rates.
    head = [line.split() for line in proc.stdout.splitlines() if line.strip().startswith("arm ")][-1]
    assert head[-3:] == ["inflamed%", "excluded%", "desert%"]
    table = pd.read_hdf(cohort / "summary.h5", "runs")
    control = table[(table["arm"] == "control") & table["phenotype"].isin(spatial.PHENOTYPES)]
    blocks = [line.split() for line in proc.stdout.splitlines() if line.strip().startswith("control")]
    row = blocks[len([1 for line in proc.stdout.splitlines() if line.strip().startswith("arm ")]) - 1]
    assert row[-3:] == [f"{100 * (control['phenotype'] == p).mean():.0f}" for p in spatial.PHENOTYPES]
    from gpusim.plots.sweep import figure

    titles = [ax.get_title() for ax in figure(cohort).axes]
    assert "arm control: immune phenotype, last frame" in titles and "arm chemo: immune phenotype, last frame" in titles


def test_curves_spaghetti_median_and_kaplan_meier_per_arm(cohort, tmp_path, quickstart_run, capsys):
    import h5py

    from gpusim.endpoints import kaplan_meier, km_median
    from gpusim.plots.cohort import figure, time_to_progression

    png = tmp_path / "curves.png"
    proc = cli(capsys, "plot", cohort, "--curves", "tumour_cells", "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = figure(cohort, "tumour_cells")
    titles = [ax.get_title() for ax in fig.axes]
    assert "arm control: 6 runs" in titles and "arm chemo: 6 runs" in titles
    control = fig.axes[titles.index("arm control: 6 runs")]
    table = pd.read_hdf(cohort / "summary.h5", "runs")
    runs = table[table["arm"] == "control"]
    curves = []
    for row in runs.itertuples():
        with h5py.File(store.run_path(cohort, row.run_id)) as f:
            curves.append(f["observables/tumour_cells/value"][()])
    median = next(line for line in control.get_lines() if line.get_label() == "median")
    np.testing.assert_array_equal(median.get_ydata(), np.median(np.array(curves, float), axis=0))
    # Kaplan-Meier of the chemo arm, from the times to progression computed here.
    km = fig.axes[-1]
    chemo = table[table["arm"] == "chemo"]
    ttp = []
    for row in chemo.itertuples():
        with h5py.File(store.run_path(cohort, row.run_id)) as f:
            g = f["observables/tumour_cells"]
            ttp.append(time_to_progression(g["time"][()], g["value"][()], row.therapy_start_day, 2))
    d, e = np.array([t for t, _ in ttp]), np.array([ev for _, ev in ttp])
    step = next(line for line in km.get_lines() if line.get_label().startswith("chemo (from day "))
    med = km_median(d, e)[0]
    assert step.get_label().endswith(f": {int(e.sum())}/6 progressed, median "
                                     + ("not reached" if np.isinf(med) else f"{med:.2g} d")), step.get_label()
    np.testing.assert_allclose(step.get_ydata()[:-1], kaplan_meier(d, e).survival)
    assert cli(capsys, "plot", cohort, "--curves", "nonsense").returncode == 2
    bad = cli(capsys, "plot", quickstart_run, "--curves", "tumour_cells")
    assert bad.returncode == 2 and "needs a sweep directory" in bad.stderr


def test_kaplan_meier_known_answer():
    from gpusim.endpoints import kaplan_meier

    # 5 patients: events at 2, 2, 4; censored at 3 and 5 -> S = 3/5 after 2, then 3/5 * 1/2 after 4.
    km = kaplan_meier(np.array([2, 2, 3, 4, 5.0]), np.array([True, True, False, True, False]))
    assert km.times.tolist() == [0.0, 2.0, 4.0] and np.allclose(km.survival, [1.0, 0.6, 0.3])


def test_sensitivity_of_the_phenotype(cohort):
    from gpusim.analysis.sensitivity import indices

    t = indices(cohort, "phenotype=desert").set_index("arm")
    # Untreated: scarce recruitment (0.05/day) leaves every tumour a desert, 5/day none.
    assert t.loc["control", "method"] == "prcc" and t.loc["control", "PRCC"] == pytest.approx(-1.0)


@pytest.mark.parametrize("name", ["tumour_cells", "tcells"])
def test_curves_have_numbered_y_ticks_and_units_at_any_range(cohort, name):
    """A count inside one decade (symlog ticks only at decades would leave
    the axis bare) still gets numbers; the label is the description and unit."""
    from gpusim.plots.cohort import figure

    fig = figure(cohort, name)
    fig.canvas.draw()
    for ax in fig.axes[:-1]:
        lo, hi = ax.get_ylim()
        shown = [t for t in ax.yaxis.get_major_ticks() if lo <= t.get_loc() <= hi and t.label1.get_text()]
        assert len(shown) >= 2, (name, [t.label1.get_text() for t in ax.yaxis.get_major_ticks()])
        assert ax.get_ylabel().endswith("(cells)")
