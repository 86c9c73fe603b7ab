"""RECIST 1.1 on diameters (gpusim.endpoints): constructed frames of a
disc (2D) and a ball (3D) shrunk and regrown by known factors get the right
labels, best overall response, PFS; arm tables with Kaplan-Meier medians (scipy.stats.ecdf)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpusim.endpoints import (arm_table, assess, equivalent_diameter, frame_diameter, kaplan_meier, km_median,
                              longest_diameter)


def ball(radius: float, dim: int, size: int = 81) -> np.ndarray:
    """A clone frame (ny, nx) or (nz, ny, nx) with a disc/ball of ``radius`` sites at the centre."""
    c = np.indices((size,) * dim) - size // 2
    return (np.sqrt((c**2).sum(axis=0)) <= radius).astype(np.uint32)


@pytest.mark.parametrize("dim", [2, 3])
def test_a_ball_has_its_diameter(dim):
    for r in (3, 10, 20):
        frame = ball(r, dim, 45 if dim == 3 else 81)
        assert frame_diameter(frame) == pytest.approx(2 * r + 1, abs=0.01)
        # the cells of a lattice ball fill a ball of about its radius + 1/2, less for small ones
        assert float(equivalent_diameter(frame.sum(), dim)) == pytest.approx(2 * r + 1, rel=0.15 if r < 5 else 0.05)


# radius factors over the visits -> labels: -35 % PR, -20 % SD, then +25 % from the nadir PD
CASES = [
    ([1.0, 0.8, 0.65, 0.6, 0.75], ["SD", "PR", "PR", "PD"], "PR"),
    ([1.0, 0.85, 0.85, 1.1], ["SD", "SD", "PD"], "SD"),
    ([1.0, 1.3], ["PD"], "PD"),
    ([1.0, 0.5, 0.0], ["PR", "CR"], "CR"),
]


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("factors,labels,best", CASES)
def test_shrunk_balls_get_recist_labels(dim, factors, labels, best):
    r0 = 16 if dim == 3 else 30
    size = 45 if dim == 3 else 85
    frames = [ball(r0 * f if f else -1, dim, size) for f in factors]
    diam = [frame_diameter(fr) for fr in frames]
    times = np.arange(len(factors)) * 42.0
    got = assess(times, np.array(diam), start_day=0.0)
    assert got["labels"] == labels and got["best_overall_response"] == best
    assert got["progressed"] == ("PD" in labels)
    if "PD" in labels:
        assert got["pfs_days"] == 42.0 * (labels.index("PD") + 1)
    # The same labels from the equivalent-sphere diameter of the cell counts.
    eq = equivalent_diameter(np.array([fr.sum() for fr in frames]), dim)
    assert assess(times, eq, 0.0)["labels"] == labels


def test_cell_count_rule_and_diameter_rule_differ():
    """-30 % in diameter is -51 % of a disc's cells, -66 % of a ball's: a 40 %
    fall in cells is a PR by count but SD by diameter."""
    for dim, cells_pr in ((2, 0.49), (3, 0.343)):
        assert (cells_pr ** (1 / dim)) == pytest.approx(0.7)
        eq = equivalent_diameter(np.array([1000.0, 600.0]), dim)
        assert assess(np.array([0.0, 1.0]), eq, 0.0)["labels"] == ["SD"]


def test_baseline_is_the_last_visit_before_therapy_and_no_visit_is_ne():
    got = assess(np.array([0.0, 5.0, 10.0]), np.array([10.0, 20.0, 13.0]), start_day=6.0)
    assert got["baseline"] == 20.0 and got["labels"] == ["PR"]
    assert assess(np.array([0.0]), np.array([10.0]), 0.0)["best_overall_response"] == "NE"
    assert longest_diameter(np.zeros((0, 2))) == 0.0


def test_arm_table_rates_cis_and_km_median():
    runs = [{"best_overall_response": b, "pfs_days": d, "progressed": p} for b, d, p in
            [("PR", 100, False), ("CR", 120, False), ("SD", 40, True), ("PD", 10, True), ("PD", 20, True)]]
    row = arm_table({"a": runs})[0]
    assert (row["n"], row["CR"], row["PR"], row["SD"], row["PD"]) == (5, 1, 1, 1, 2)
    assert row["orr"] == 0.4 and row["dcr"] == 0.6
    assert 0.05 < row["orr_low"] < 0.06 and 0.85 < row["orr_high"] < 0.86  # Clopper-Pearson 2/5
    assert row["pfs_median"] == 40.0
    assert math.isinf(arm_table({"b": runs[:2]})[0]["pfs_median"])  # nobody progressed: not reached


def test_kaplan_meier_band_against_greenwood_by_hand():
    """Events at 1, 2 (one censored at 2), 4 of 5: S = 4/5, 3/5, 0; the
    log-log band's edges bracket the curve and meet it where it is 1."""
    km = kaplan_meier([1.0, 2, 2, 3, 4], [True, True, False, False, True])
    np.testing.assert_allclose(km.survival, [1.0, 0.8, 0.6, 0.0])
    assert km.times.tolist() == [0.0, 1.0, 2.0, 4.0]
    assert (km.low[1:3] < km.survival[1:3]).all() and (km.survival[1:3] < km.high[1:3]).all()
    # Greenwood at t = 1: var(log S) = 1 / (5 * 4); log-log half-width 1.96 sqrt(var) / |log S|
    v = 1 / 20 / np.log(0.8) ** 2
    np.testing.assert_allclose(km.low[1], 0.8 ** np.exp(1.959963984540054 * np.sqrt(v)), rtol=1e-9)
    assert km_median([1.0, 2, 2, 3, 4], [True, True, False, False, True])[0] == 4.0


SWEEP = '''seed = 3
replicates = 3
[population]
"patient.body_weight_kg" = {median = 80.0, cv = 0.3}
[[arms]]
name = "nivolumab"
[[arms.therapy]]
kind = "anti_pd1"
drug = "nivolumab"
dose_mg_per_kg = 3.0
start_day = 1.0
interval_days = 2.0
doses = 2
[[arms]]
name = "ipilimumab"
[[arms.therapy]]
kind = "anti_ctla4"
drug = "ipilimumab"
dose_mg_per_kg = 3.0
days = [1.0]'''
BASE_SET = '''lattice.shape = [24, 24]
simulation.dt_minutes = 60.0
simulation.steps = 96
tumour.initial_pdl1 = true
tumour.initial_recognition = 0.3
output.frame_every_steps = 24
output.checkpoint_every_steps = 0'''


def test_summarize_and_plot_a_sweep_per_arm(tmp_path, capsys):
    from conftest import cli
    from sweep_util import write_sweep

    from gpusim.endpoints import assess, run_diameters, sweep_endpoints
    from gpusim.sweepdir import store

    path = write_sweep(tmp_path, SWEEP, BASE_SET)
    out = tmp_path / "out"
    assert cli(capsys, "sweep", path, "-o", out, "--backend", "cpu", "-q").returncode == 0
    text = cli(capsys, "summarize", out, "--recist").stdout
    assert "RECIST 1.1 on the longest diameter" in text
    table = text[text.index("RECIST 1.1"):].splitlines()
    assert table[2].split()[:2] == ["nivolumab", "3"] and table[3].split()[:2] == ["ipilimumab", "3"]
    per_arm = sweep_endpoints(out)
    run = per_arm["nivolumab"][0]
    times, diam = run_diameters(store.run_path(out, run["run_id"]))
    assert list(times) == [0.0, 1.0, 2.0, 3.0, 4.0]  # the frames are the visits; baseline day 1
    assert assess(times, diam, 1.0)["labels"] == run["labels"] and len(run["labels"]) == 3
    png = tmp_path / "recist.png"
    proc = cli(capsys, "plot", out, "--recist", "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    from gpusim.plots.trial import figure

    fig = figure(out)
    for row in (0, 1):  # waterfalls, spider plots: one y range per row, arms compared at a glance
        ranges = {ax.get_ylim() for ax in fig.axes if ax.get_subplotspec().rowspan.start == row}
        assert len(ranges) == 1, ranges
