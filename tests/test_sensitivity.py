"""gpusim sensitivity: on a sweep built so that one parameter decides the
outcome (tumour cell death rate, with division and immunity off; the other
two swept parameters act on nothing), Sobol' indices (Saltelli design) and
PRCC (Latin hypercube) both name it as dominant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_nothing_over_the_data, assert_one_line_error, cli, gpusim
from sweep_util import write_sweep

from gpusim.analysis.sensitivity import indices, prcc

DECIDES = "tumour.death_rate_per_day"
INERT = ("immune.speed_um_per_min", "tumour.mutations_per_division")
PARAMS = f"""
[[random.params]]
key = "{DECIDES}"          # 0.1/day: every cell survives 10 hours; 100/day: none does
min = 0.1
max = 100.0
scale = "log"
[[random.params]]
key = "{INERT[0]}"         # immunity is off
min = 0.5
max = 5.0
[[random.params]]
key = "{INERT[1]}"         # cells do not divide
min = 0.0
max = 0.5
"""
BASE_SET = {"lattice.shape": [12, 12], "simulation.steps": 60, "tumour.initial_radius_cells": 2.0,
            "tumour.division_rate_per_day": 0.0, "immune.enabled": False, "output.frame_every_steps": 0}


def sweep(tmp_path_factory, design: str, samples: int):
    tmp = tmp_path_factory.mktemp(design)
    spec = write_sweep(tmp, f'seed = 13\n[random]\ndesign = "{design}"\nsamples = {samples}\n{PARAMS}', BASE_SET)
    out = tmp / "out"
    # one cpu batch per shape (byte-identical to the runs alone): 80 runs at once
    proc = gpusim("sweep", spec, "-o", out, "--backend", "cpu", "--batch", "auto", "-q")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def sobol_sweep(tmp_path_factory):
    """Saltelli sample, N = 16: 16 x (3 + 2) = 80 runs."""
    return sweep(tmp_path_factory, "sobol", 16)


@pytest.fixture(scope="module")
def lhs_sweep(tmp_path_factory):
    return sweep(tmp_path_factory, "latin_hypercube", 30)


def test_sobol_indices_name_the_deciding_parameter(sobol_sweep, tmp_path):
    table = pd.read_hdf(sobol_sweep / "summary.h5", "runs")
    assert len(table) == 80 and 0.2 < (table["outcome"] == "elimination").mean() < 0.8
    for output in ("outcome", "tumour_cells_final"):
        t = indices(sobol_sweep, output).set_index("parameter")
        assert (t["method"] == "sobol").all() and (t["points"] == 80).all()
        # Measured (sweep seed 13): outcome S1/ST 0.78/1.04 for the death rate, 0.10/0.13 for each inert one;
        # tumour_cells_final 0.80/0.85 against at most 0.07/0.02.
        assert t.loc[DECIDES, "ST"] > 0.7 and t.loc[DECIDES, "S1"] > 0.6, t
        for inert in INERT:
            assert t.loc[inert, "ST"] < 0.25 and t.loc[DECIDES, "ST"] > 4 * t.loc[inert, "ST"], t
    png = tmp_path / "s.png"
    proc = gpusim("sensitivity", sobol_sweep, "--output", "outcome", "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert "sensitivity of outcome (sobol)" in proc.stdout and DECIDES in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prcc_on_a_latin_hypercube_names_the_deciding_parameter(lhs_sweep):
    t = indices(lhs_sweep, "tumour_cells_final").set_index("parameter")
    assert (t["method"] == "prcc").all() and (t["points"] == 30).all()
    # Measured: PRCC -0.94 (p < 1e-6) for the death rate; 0.18 and -0.31 (p 0.37, 0.11) for the inert ones.
    assert t.loc[DECIDES, "PRCC"] < -0.9 and t.loc[DECIDES, "p_value"] < 1e-6, t
    for inert in INERT:
        assert abs(t.loc[inert, "PRCC"]) < 0.4, t
    # outcome as 0/1, and the final value of an observable read from the run files
    assert indices(lhs_sweep, "outcome").set_index("parameter").loc[DECIDES, "PRCC"] > 0.8
    assert indices(lhs_sweep, "live_clones").set_index("parameter").loc[DECIDES, "PRCC"] < -0.8


def test_sobol_figure_keeps_every_whisker_and_bar_in_view():
    # The anti-PD-1 panel of docs/sensitivity.png before: S1 + its CI ran past
    # an x axis sized on ST, and the legend sat on the last bars.
    from gpusim.analysis.sensitivity import figure

    rows = [("control", "a", 0.3, 0.35, 0.7, 0.6), ("control", "b", -0.02, 0.25, 0.08, 0.07),
            ("anti-PD-1", "a", 0.82, 0.6, 0.74, 0.47), ("anti-PD-1", "b", float("nan"), float("nan"), 0.9, 0.2)]
    table = pd.DataFrame([{"arm": arm, "parameter": p, "method": "sobol", "S1": s1, "S1_conf": c1, "ST": st,
                           "ST_conf": ct, "points": 96, "output": "tumour_change"}
                          for arm, p, s1, c1, st, ct in rows])
    fig = figure(table)
    assert_nothing_over_the_data(fig)
    assert fig.axes[1].get_xlim()[1] >= 0.82 + 0.6 and fig.axes[0].get_xlim() == fig.axes[1].get_xlim()


def test_prcc_known_answers():
    rng = np.random.default_rng(3)
    x = rng.random((300, 3))
    y = np.exp(3 * x[:, 0]) - 2 * x[:, 1] ** 3  # monotone in x0 and x1, x2 unused
    coef, p = prcc(x, y)
    assert coef[0] > 0.95 and coef[1] < -0.6 and abs(coef[2]) < 0.15  # measured 0.99, -0.76
    assert p[0] < 1e-10 and p[2] > 0.01


def test_bad_input_one_line_exit_2(sobol_sweep, tmp_path, capsys):
    assert_one_line_error(cli(capsys, "sensitivity", tmp_path / "nope"), "nope: not a sweep output directory")
    assert_one_line_error(cli(capsys, "sensitivity", sobol_sweep, "--output", "nonsense"),
                          "--output nonsense: not a summary column or an observable")
    assert_one_line_error(cli(capsys, "sensitivity", sobol_sweep, "-o", tmp_path / "no" / "x.png"), "does not exist")
    assert_one_line_error(cli(capsys, "sensitivity", sobol_sweep, "--output", "outcome=cured"),
                          "--output outcome=cured: outcome is one of elimination, equilibrium")
    assert_one_line_error(cli(capsys, "sensitivity", sobol_sweep, "--output", "phenotype"),
                          "no complete run has a phenotype")  # the sweep writes no frames
