"""gpusim calibrate: spec and data checks, a generation batched equals it
run one particle at a time, and a killed calibration continues to the same
posterior.  Tiny lattices and populations: seconds, not minutes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, cli, gpusim_popen

BASE = """\
[simulation]
steps = 24
dt_minutes = 60.0
[lattice]
shape = [16, 16]
[tumour]
initial_radius_cells = 1.5
[chemokine]
grid_coarsening = 8
[immune]
vessel_density = 0.05
"""

SPEC = """\
seed = 11
replicates = 1
[base]
config = "base.toml"
[[arms]]
name = "control"
therapy = "none"
[[arms]]
name = "vaccine"
[[arms.therapy]]
kind = "vaccine"
start_day = 0.0
end_day = 1.0
recruitment_multiplier = 3.0
[[params]]
key = "tumour.division_rate_per_day"
prior = "uniform"
min = 0.2
max = 2.0
truth = 1.0
[[params]]
key = "immune.recruitment_rate_per_day"
prior = "log_uniform"
min = 0.5
max = 8.0
[data]
file = "data.csv"
[abc]
population = 8
generations = 3
"""

DATA = pd.DataFrame({"arm": ["control", "control", "vaccine", "vaccine"], "time": [0.5, 1.0, 0.5, 1.0],
                     "quantity": ["tumour_cells", "tcells", "tumour_cells", "tcells"],
                     "value": [12.0, 6.0, 12.0, 14.0], "sd": [3.0, 2.0, 3.0, 4.0]})


def write_spec(d: Path, spec: str = SPEC, data: pd.DataFrame = DATA) -> Path:
    (d / "base.toml").write_text(BASE)
    (d / "spec.toml").write_text(spec)
    data.to_csv(d / "data.csv", index=False)
    return d / "spec.toml"


def test_a_generation_batched_equals_one_at_a_time(tmp_path):
    from gpusim.calibrate.run import Calibration

    spec = write_spec(tmp_path)
    # every kind of statistic: observable, phenotype fraction, response rate, spatial density
    data = DATA.assign(quantity=["tumour_cells", "phenotype_no_core", "response_rate", "tcell_density_margin_per_mm2"],
                       value=[12.0, 0.5, 0.2, 300.0])
    data.to_csv(tmp_path / "data.csv", index=False)
    cal = Calibration(spec, backend="cpu")
    particles = [{"tumour.division_rate_per_day": r, "immune.recruitment_rate_per_day": q}
                 for r, q in ((0.5, 1.0), (1.5, 4.0), (1.0, 2.0))]
    together = cal.simulator(particles, 2, 10, batch=6)
    alone = [cal.simulator([p], 2, 10 + i, batch=1)[0] for i, p in enumerate(particles)]
    np.testing.assert_array_equal(np.array(together), np.array(alone))
    assert not np.allclose(together[0], together[1])  # the parameters matter
    assert all(0 <= t[1] <= 1 and 0 <= t[2] <= 1 for t in together)  # fractions of patients
    numpy = Calibration(spec, backend="numpy").simulator(particles[:1], 2, 10)
    np.testing.assert_array_equal(numpy[0], together[0])  # and the backend does not


def calibrate_args(spec: Path, out: Path) -> list:
    return ["calibrate", spec, "-o", out, "--backend", "cpu", "--no-plots"]


@pytest.mark.slow
def test_killed_calibration_continues_to_the_same_posterior(tmp_path, capsys, caplog):
    spec = write_spec(tmp_path)
    whole = tmp_path / "whole"
    proc = cli(capsys, *calibrate_args(spec, whole))
    assert proc.returncode == 0, proc.stderr
    expected = pd.read_csv(whole / "posterior.csv")
    assert len(expected) == 8 and set(expected.columns) >= {"tumour.division_rate_per_day", "weight", "distance"}

    killed = tmp_path / "killed"
    p = gpusim_popen(*calibrate_args(spec, killed))
    deadline = time.time() + 120
    for line in p.stderr:  # kill it as soon as generation 1 is sampled: mid-way through generations
        if line.startswith("gpusim: generation 1:"):
            os.kill(p.pid, signal.SIGKILL)
            break
        assert time.time() < deadline, "generation 1 never came"
    p.wait()
    p.stdout.close()
    p.stderr.close()
    assert p.returncode == -signal.SIGKILL
    assert not (killed / "posterior.csv").exists()
    proc = cli(capsys, *calibrate_args(spec, killed))
    assert proc.returncode == 0, proc.stderr
    assert "killed: continuing after generation" in caplog.text  # the kill came before the last generation
    got = pd.read_csv(killed / "posterior.csv")
    pd.testing.assert_frame_equal(got, expected)
    again = cli(capsys, *calibrate_args(spec, killed))  # nothing left to do: the same tables
    assert again.returncode == 0
    pd.testing.assert_frame_equal(pd.read_csv(killed / "posterior.csv"), expected)


@pytest.mark.slow
def test_calibrate_writes_tables_and_figures(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC.replace("generations = 3", "generations = 2"))
    out = tmp_path / "out"
    proc = cli(capsys, "calibrate", spec, "-o", out, "--backend", "cpu")
    assert proc.returncode == 0, proc.stderr
    for name in ("posterior.csv", "posterior.parquet", "summary.csv", "generations.csv", "predictive.csv",
                 "marginals.png", "pairs.png", "epsilon.png", "predictive.png"):
        assert (out / name).stat().st_size > 0, name
    gens = pd.read_csv(out / "generations.csv")
    assert gens["generation"].tolist() == [0, 1] and np.isinf(gens["epsilon"][0]) and gens["epsilon"][1] > 0
    summary = pd.read_csv(out / "summary.csv").set_index("parameter")
    assert summary.loc["tumour.division_rate_per_day", "prior_lo"] == pytest.approx(0.29)
    assert (summary["lo"] <= summary["median"]).all() and (summary["median"] <= summary["hi"]).all()
    predictive = pd.read_csv(out / "predictive.csv")
    assert len(predictive) == len(DATA) and (predictive["sim_q05"] <= predictive["sim_q95"]).all()
    other = write_spec(tmp_path, SPEC.replace("seed = 11", "seed = 12"))  # a different calibration: refused
    assert_one_line_error(cli(capsys, "calibrate", other, "-o", out), "holds a different calibration")


@pytest.mark.parametrize("edit, fragments", [
    (lambda s, d: (s.replace('prior = "log_uniform"\nmin = 0.5', 'prior = "log_uniform"\nmin = 0.0'), d),
     ["params.1", "a log_uniform prior needs 0 < min < max"]),
    (lambda s, d: (s.replace("tumour.division_rate_per_day", "tumour.division_rate"), d),
     ["tumour.division_rate: no such config key"]),
    (lambda s, d: (s.replace('prior = "uniform"\nmin = 0.2\nmax = 2.0', 'prior = "normal"\nmean = 1.0\nsd = 1.0'), d),
     ["params tumour.division_rate_per_day: the prior reaches -2.29", "refuses"]),
    (lambda s, d: (s.replace("replicates = 1", "replicates = true"), d), ["replicates: Input should be a valid integer"]),
    (lambda s, d: (s, d.drop(columns="value")), ["data.csv", "missing column value"]),
    (lambda s, d: (s, d.assign(arm=["control", "placebo", "vaccine", "other"])),
     ["data.csv: row 2: arm 'placebo' is not one of the spec's arms (control, vaccine)",
      "(and 1 more bad rows: row 4)"]),
    (lambda s, d: (s, d.assign(time=[0.5, 1.0, 40.0, 1.0])), ["row 3: time 40.0 is not in [0, 1] days"]),
    (lambda s, d: (s, d.assign(quantity=["tumour_cells", "tumor_cells", "tumour_cells", "tcells"])),
     ["row 2: unknown quantity 'tumor_cells'"]),
    (lambda s, d: (s, d.assign(value=[12.0, float("nan"), 12.0, 14.0])), ["row 2: value nan is not a finite number"]),
    (lambda s, d: (s, d.assign(sd=[3.0, -1.0, 3.0, 4.0])), ["row 2: sd -1.0 must be a positive number"]),
    (lambda s, d: (s, d.assign(quantity="response_rate", value=0.5, time=[0.5, 1.0, 0.6, 0.9])),
     ["arm 'control' has response_rate rows but no therapy"]),
    (lambda s, d: (s, pd.concat([d, d.iloc[:1]])), ["row 5: repeats row 1 (control, day 0.5, tumour_cells)"]),
])
def test_bad_spec_or_data_one_line_nothing_written(tmp_path, capsys, edit, fragments):
    spec, data = edit(SPEC, DATA.copy())
    path = write_spec(tmp_path, spec, data)
    out = tmp_path / "out"
    proc = cli(capsys, "calibrate", path, "-o", out, "--backend", "cpu")
    assert_one_line_error(proc, *fragments)
    assert not out.exists()


def test_bench_one_generation_batched_against_one_at_a_time(tmp_path, capsys):
    spec = write_spec(tmp_path)
    proc = cli(capsys, "bench", "--calibrate", spec, "--cohort", "3", "--backend", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    (rec,) = json.loads(proc.stdout)
    assert rec["particles"] == 3 and rec["runs"] == 6 and rec["batched_s"] > 0 and rec["alone_s"] > 0
    assert "one at a time" in proc.stderr and "runs/hour" in proc.stderr


def test_shipped_example_loads_with_its_data():
    from gpusim.calibrate.run import Calibration

    root = Path(__file__).parents[1] / "configs"
    cal = Calibration(root / "calibrate_example.toml", backend="numpy", quick=True)
    assert {p.key: p.truth for p in cal.spec.params} == {"tumour.division_rate_per_day": 0.8,
                                                          "immune.recruitment_rate_per_day": 3.0}
    assert set(cal.data["arm"]) == {"control", "vaccine"} and cal.simulator.steps == 192
    assert (cal.abc.population, cal.abc.generations) == (50, 6)
