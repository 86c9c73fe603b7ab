"""Sweeps without MPI: the spec, run ids and seeds, the directory, resume,
failures, summary.h5, summarize and plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import h5py
import numpy as np
import pytest
from conftest import assert_nothing_over_the_data, assert_one_line_error, cli, gpusim
from sweep_util import SMALL, assert_same_runs, run_files, write_sweep

from gpusim.config import parse_override
from gpusim.outcome import OUTCOMES
from gpusim.sweepdir import store
from gpusim.sweep.driver import run_sweep
from gpusim.sweepdir.runs import expand, load_plan, run_id, run_seed, toml_value
from gpusim.sweepdir.spec import parse_spec


# ------------------------------------------------------------------ spec


def spec(**extra):
    return parse_spec({"seed": 5, "base": {"config": "b.toml"}, **extra})


def test_grid_random_arms_replicates_expand_to_their_product():
    s = spec(replicates=3,
             grid=[{"key": "tumour.death_rate_per_day", "values": [0.1, 0.2]},
                   {"key": "immune.recruitment_rate_per_day", "min": 0.1, "max": 10, "num": 3, "scale": "log"}],
             random={"samples": 4, "params": [{"key": "immune.kills_per_tcell", "min": 1, "max": 10,
                                                "integer": True}]},
             arms=[{"name": "control", "therapy": "none"},
                   {"name": "vaccine", "therapy": [{"kind": "vaccine", "start_day": 1, "end_day": 5,
                                                    "recruitment_multiplier": 3}]}])
    runs = expand(s)
    assert len(runs) == 2 * 3 * 4 * 2 * 3
    assert sorted({r.params["immune.recruitment_rate_per_day"] for r in runs}) == [0.1, 1.0, 10.0]
    kills = sorted({r.params["immune.kills_per_tcell"] for r in runs})
    assert len(kills) == 4 and all(isinstance(k, int) and 1 <= k <= 10 for k in kills)
    # Latin hypercube: one sample in each quarter of the range.
    assert sorted(int((k - 1) / 9 * 4 - 1e-9) for k in kills) == [0, 1, 2, 3]
    assert len({r.id for r in runs}) == len(runs)
    vaccine = next(r for r in runs if r.arm == "vaccine")
    assert vaccine.overrides[-1].startswith("therapy=[{kind = \"vaccine\"")
    assert next(r for r in runs if r.arm == "control").overrides[-1] == "therapy=[]"


def test_ids_and_seeds_depend_on_the_run_only():
    small = spec(grid=[{"key": "tumour.death_rate_per_day", "values": [0.1, 0.2]}],
                 arms=[{"name": "a", "therapy": "none"}])
    bigger = spec(grid=[{"key": "tumour.death_rate_per_day", "values": [0.3, 0.2, 0.1]}], replicates=2,
                  arms=[{"name": "b", "therapy": "none"}, {"name": "a", "therapy": "none"}])
    by_id = {r.id: r for r in expand(bigger)}
    for r in expand(small):  # the same run has the same id and seed in another layout of the sweep
        other = by_id[r.id]
        assert (other.params, other.arm, other.replicate, other.seed) == (r.params, r.arm, r.replicate, r.seed)
        assert other.index != r.index or r.index == 0
    rid = run_id({"tumour.death_rate_per_day": 0.1}, "a", 0)
    assert len(rid) == 12 and int(rid, 16) >= 0
    assert run_seed(5, rid) != run_seed(6, rid) and 0 <= run_seed(5, rid) < 2**64


def test_random_sample_is_fixed_by_the_sweep_seed():
    rnd = {"samples": 5, "params": [{"key": "tumour.death_rate_per_day", "min": 0.01, "max": 1, "scale": "log"}]}
    a, b, c = expand(spec(random=rnd)), expand(spec(random=rnd)), expand(parse_spec(
        {"seed": 6, "base": {"config": "b.toml"}, "random": rnd}))
    assert [r.params for r in a] == [r.params for r in b]
    assert [r.params for r in a] != [r.params for r in c]
    values = [r.params["tumour.death_rate_per_day"] for r in a]
    assert all(0.01 <= v <= 1 for v in values)


@pytest.mark.parametrize("value", [0.1, 1e-06, 3, True, "moore", [64, 64], float("inf"),
                                   [{"kind": "vaccine", "start_day": 1.5, "end_day": 2.0, "x y": "\"q\""}]])
def test_toml_value_round_trips_through_set(value):
    path, parsed = parse_override(f"a.b={toml_value(value)}")
    assert path == ("a", "b") and parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("extra, message", [
    ({"replicate": 2}, "replicate: unknown key"),
    ({"replicates": 0}, "replicates: Input should be greater than or equal to 1"),
    ({"grid": [{"key": "tumour.death_rate_per_day", "values": [1], "num": 3}]}, "either values or min/max/num"),
    ({"grid": [{"key": "tumour.death_rate_per_day", "min": 0, "max": 1, "num": 2, "scale": "log"}]},
     "log scale needs min > 0"),
    ({"grid": [{"key": "simulation.seed", "values": [1, 2]}]}, "simulation.seed cannot be swept"),
    ({"grid": [{"key": "therapy.level", "values": [1]}]}, "varied by [[arms]]"),
    ({"arms": [{"name": "a", "therapy": "none"}, {"name": "a", "therapy": []}]}, "arm 'a' is defined twice"),
    ({"arms": [{"name": "a", "therapy": [{"kind": "surgery"}]}]}, "arms.0.therapy"),
    # lax coercions refused, as in a run config (gpusim.section)
    ({"seed": True}, "seed: Input should be a valid integer"),
    ({"seed": 1.0}, "seed: Input should be a valid integer"),
    ({"replicates": "2"}, "replicates: Input should be a valid integer"),
    ({"grid": [{"key": "tumour.death_rate_per_day", "min": 0.1, "max": 0.5, "num": True}]}, "num: Input should be"),
    ({"grid": [{"key": "tumour.death_rate_per_day", "min": 0.1, "max": 0.5, "num": 3, "integer": "yes"}]},
     "integer: Input should be a valid boolean"),
    ({"grid": [{"key": "tumour.death_rate_per_day", "min": 0.1, "max": float("inf"), "num": 3}]},
     "max: Input should be a finite number"),
    ({"random": {"samples": True, "params": [{"key": "a.b", "min": 0, "max": 1}]}}, "samples: Input should be"),
])
def test_bad_specs_are_one_line_errors(extra, message):
    from gpusim.errors import InputError

    with pytest.raises(InputError) as err:
        spec(**extra)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_plan_checks_each_distinct_run_once_and_keeps_no_configs(tmp_path, monkeypatch):
    # What keeps a large plan fast and small: replicates differ only in their
    # seed (one check for them all), and a run's config is made when asked.
    import gpusim.sweepdir.runs as runs_module

    calls = []
    real = runs_module.apply_overrides
    monkeypatch.setattr(runs_module, "apply_overrides", lambda cfg, items: calls.append(items) or real(cfg, items))
    path = write_sweep(tmp_path, 'seed = 3\nreplicates = 4\n[[grid]]\nkey = "tumour.death_rate_per_day"\n'
                                 'values = [0.1, 0.2, 0.3]', "lattice.shape = [16, 16]")
    plan = load_plan(path)
    assert len(plan.runs) == 12 and len(calls) == 3
    first = plan.config(plan.runs[0])
    assert first == plan.config(plan.runs[0]) and first is not plan.config(plan.runs[0])
    assert first.simulation.seed == plan.runs[0].seed and plan.base.simulation.seed != first.simulation.seed


SHIPPED = sorted(SMALL.parent.glob("*sweep*.toml")) + sorted((SMALL.parents[1] / "docs").glob("*sweep*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_sweep_specs_load(path):
    plan = load_plan(path)
    assert len(plan.runs) >= 8 and len({r.id for r in plan.runs}) == len(plan.runs)
    assert {r.arm for r in plan.runs} == {"control", "anti-PD-1"}


def test_shipped_specs_include_the_documented_ones():
    assert {p.name for p in SHIPPED} >= {"sweep_small.toml", "sweep_tmb_infiltration.toml", "sweep_example.toml"}


# ------------------------------------------------------------ CLI, dir


def test_dry_run_lists_runs_and_writes_nothing(tmp_path, capsys):
    proc = cli(capsys, "sweep", SMALL, "-o", tmp_path / "out", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip().splitlines()
    # Long overrides wrap under their column: a line is wider than 100 only to hold one override whole.
    assert all(len(line) <= 100 or len(line.split()) in (1, 6) for line in lines)
    top = next(i for i, line in enumerate(lines) if line.startswith("#"))
    assert " ".join(lines[:top]).startswith("8 runs = 4 parameter points x 2 arms x 1 replicates; sweep seed 7")
    assert lines[top].split() == ["#", "id", "arm", "rep", "seed", "overrides"]
    rows: list[str] = []
    for line in lines[top + 1:]:  # a row, then its continuation lines (indented)
        if line.startswith(" ") and rows:
            rows[-1] += " " + line.strip()
        else:
            rows.append(line)
    plan = load_plan(SMALL)
    assert len(rows) == 8
    for run, line in zip(plan.runs, rows):
        cols = line.split()
        assert cols[:5] == [str(run.index), run.id, run.arm, str(run.replicate), str(run.seed)]
        assert "tumour.mutations_per_division=" in line and "immune.recruitment_rate_per_day=" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("body, base_set, fragments", [
    ('seed = 1\n[[grid]]\nkey = "tumour.death_rate_per_dya"\nvalues = [0.1]', "",
     ["sweep.toml", "tumour.death_rate_per_dya: no such config key"]),
    ('seed = 1\n[[grid]]\nkey = "tumour"\nvalues = [0.1]', "", ["tumour: is a table"]),
    ('seed = 1\n[[grid]]\nkey = "tumour.death_rate_per_day"\nvalues = [0.1, -1.0]', "",
     ["tumour.death_rate_per_day"]),
    ("seed = 1\nreplicas = 2", "", ["sweep.toml", "replicas: unknown key"]),
    ("seed = 1", "lattice.shap = [8, 8]", ["lattice.shap: unknown key"]),
])
def test_bad_sweep_files_exit_2_with_one_line(tmp_path, body, base_set, fragments):
    path = write_sweep(tmp_path, body, base_set)
    proc = gpusim("sweep", path, "-o", tmp_path / "out")
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def small_serial(tmp_path_factory):
    """configs/sweep_small.toml run serially (numpy backend) by the CLI."""
    out = tmp_path_factory.mktemp("serial") / "small"
    proc = gpusim("sweep", SMALL, "-o", out, "--backend", "numpy")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_serial_sweep_writes_every_run_and_its_records(small_serial):
    out, proc = small_serial
    plan = load_plan(SMALL)
    assert [p.name for p in run_files(out)] == sorted(f"{r.id}.h5" for r in plan.runs)
    assert "8/8 runs complete (8 this time, 0 before), 0 failed" in proc.stdout
    assert proc.stderr.count("[sweep] run ") == 8 and "ETA" in proc.stderr
    assert (out / "sweep.toml").read_text() == SMALL.read_text()
    recorded = json.loads((out / "runs.json").read_text())
    assert [r["id"] for r in recorded["runs"]] == [r.id for r in plan.runs]
    assert tomllib.loads((out / "base.toml").read_text())["lattice"]["shape"] == [24, 24]
    for run in plan.runs:
        with h5py.File(store.run_path(out, run.id)) as f:
            assert f.attrs["status"] == "complete"
            assert int(f["parameters"].attrs["seed"]) == run.seed
            assert f["parameters"].attrs["config"] == plan.config(run).to_toml()


def test_a_run_equals_gpusim_run_with_its_overrides_and_seed(small_serial, tmp_path):
    out, _ = small_serial
    run = load_plan(SMALL).runs[1]  # the anti-PD-1 arm: its therapy list travels as one --set
    sets = [a for o in run.overrides for a in ("--set", o)]
    alone = tmp_path / "alone.h5"
    proc = gpusim("run", out / "base.toml", "-o", alone, "--seed", run.seed, *sets, "--backend", "cpu", "-q")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "runs").mkdir()
    alone.rename(tmp_path / "runs" / f"{run.id}.h5")
    (tmp_path / "ref" / "runs").mkdir(parents=True)
    (tmp_path / "ref" / "runs" / f"{run.id}.h5").symlink_to(store.run_path(out, run.id))
    assert assert_same_runs(tmp_path / "ref", tmp_path) == 1


def test_rerun_skips_complete_runs_and_reruns_the_rest(small_serial, tmp_path):
    src, _ = small_serial
    out = tmp_path / "small"
    subprocess.run(["cp", "-r", str(src), str(out)], check=True)
    files = run_files(out)
    files[0].unlink()  # lost
    files[1].rename(store.part_path(files[1]))  # a partial run left by a killed rank
    with h5py.File(store.part_path(files[1]), "r+") as f:
        f.attrs["status"] = "running"
    with h5py.File(files[2], "r+") as f:  # not complete, though at its final name
        f.attrs["status"] = "failed"
    before = {p.name: p.stat().st_mtime_ns for p in files[3:]}
    proc = gpusim("sweep", SMALL, "-o", out, "--backend", "numpy")
    assert proc.returncode == 0, proc.stderr
    assert "8/8 runs complete (3 this time, 5 before)" in proc.stdout
    assert {name: (out / "runs" / name).stat().st_mtime_ns for name in before} == before  # untouched
    assert assert_same_runs(src, out) == 8


def test_batched_sweep_writes_the_serial_unbatched_bytes(small_serial, tmp_path):
    out = tmp_path / "batched"
    proc = gpusim("sweep", SMALL, "-o", out, "--backend", "cpu", "--batch", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "8/8 runs complete (8 this time, 0 before)" in proc.stdout
    assert assert_same_runs(small_serial[0], out) == 8


def test_a_batch_continues_partial_runs_from_their_checkpoints(small_serial, tmp_path):
    """A batch mixing a run to continue (a .part with a checkpoint, as a
    killed rank leaves it), runs to start and a complete run to skip."""
    from gpusim.sweep.worker import run_batch_of

    src, _ = small_serial
    plan = load_plan(SMALL)
    out = tmp_path / "small"
    (out / "runs").mkdir(parents=True)
    runs = plan.runs[:4]
    paths = [store.run_path(out, r.id) for r in runs]
    cfgs = [plan.config(r) for r in runs]
    import shutil

    shutil.copy(store.run_path(src, runs[0].id), paths[0])  # complete: skipped
    cut = [c.model_copy(update={"simulation": c.simulation.model_copy(update={"steps": 30})}) for c in cfgs]
    assert run_batch_of([cut[1]], [paths[1]], "cpu") == ["complete"]
    paths[1].rename(store.part_path(paths[1]))  # killed at step 30 of 50: its last checkpoint
    with h5py.File(store.part_path(paths[1]), "r+") as f:
        f.attrs["status"] = "running"
        f["parameters"].attrs["config"] = cfgs[1].to_toml()  # the run's own config (50 steps)
    assert run_batch_of(cfgs, paths, "cpu") == ["skipped", "complete", "complete", "complete"]
    (tmp_path / "ref" / "runs").mkdir(parents=True)
    for r in runs:
        (tmp_path / "ref" / "runs" / f"{r.id}.h5").symlink_to(store.run_path(src, r.id))
    assert assert_same_runs(tmp_path / "ref", out) == 4


def test_batches_hold_runs_of_one_shape():
    from gpusim.sweep.driver import batches

    plan = load_plan(SMALL)
    todo = [r.index for r in plan.runs]
    assert batches(plan, todo, 3, "cpu") == [(0, 1, 2), (3, 4, 5), (6, 7)]
    assert batches(plan, todo, "auto", "numpy") == [(i,) for i in todo]
    assert batches(plan, todo, "auto", "cpu", ranks=2) == [(0, 1, 2, 3), (4, 5, 6, 7)]  # a share per rank


def test_bad_batch_is_one_line(tmp_path):
    assert_one_line_error(gpusim("sweep", SMALL, "-o", tmp_path / "x", "--batch", "0"), "--batch '0'")


def test_failed_runs_are_reported_and_retried(tmp_path, monkeypatch):
    path = write_sweep(tmp_path, 'seed = 3\nreplicates = 3', "lattice.shape = [16, 16]\nsimulation.steps = 5")
    plan = load_plan(path)
    bad = plan.runs[1]
    from gpusim.reference.backend import ReferenceBatch

    real = ReferenceBatch.step

    def flaky(self):  # the bad run dies mid-way, as on a lost device (numpy batches hold one run)
        if self.cfgs[0].simulation.seed == bad.seed and self.steps[0] == 3:
            raise RuntimeError("device lost")
        return real(self)

    monkeypatch.setattr(ReferenceBatch, "step", flaky)
    result = run_sweep(path, tmp_path / "out", backend="numpy", progress=False)
    assert result.complete == 2 and result.failed == [(bad.id, "RuntimeError: device lost")]
    final = store.run_path(tmp_path / "out", bad.id)
    assert not final.exists()  # a final name always holds a complete run
    with h5py.File(store.part_path(final)) as f:
        assert f.attrs["status"] == "failed" and "device lost" in f.attrs["error"]
    import pandas

    table = pandas.read_hdf(tmp_path / "out" / "summary.h5", "runs")
    assert dict(zip(table["run_id"], table["status"]))[bad.id] == "failed"

    monkeypatch.setattr(ReferenceBatch, "step", real)
    again = run_sweep(path, tmp_path / "out", backend="numpy", progress=False)
    assert (again.already, again.complete, again.failed) == (2, 3, [])
    assert not store.part_path(final).exists() and final.exists()


def test_cli_exit_code_1_when_runs_fail(tmp_path):
    # A run that cannot be written (its .part name is a directory) fails; the others complete.
    path = write_sweep(tmp_path, "seed = 3\nreplicates = 2", "lattice.shape = [16, 16]\nsimulation.steps = 5")
    victim = load_plan(path).runs[0]
    store.prepare(load_plan(path), tmp_path / "out")
    store.part_path(store.run_path(tmp_path / "out", victim.id)).mkdir()
    proc = gpusim("sweep", path, "-o", tmp_path / "out", "--backend", "numpy")
    assert proc.returncode == 1, proc.stderr
    assert "1/2 runs complete" in proc.stdout and f"failed: {victim.id}" in proc.stderr
    assert "1 runs failed; rerun the same command to retry them" in proc.stderr


def test_a_dir_is_only_resumed_by_its_own_sweep(small_serial, tmp_path, capsys):
    out, _ = small_serial
    other = write_sweep(tmp_path, "seed = 8", "lattice.shape = [24, 24]\nsimulation.steps = 5")
    before = sorted(p.name for p in (out / "runs").iterdir())
    assert_one_line_error(cli(capsys, "sweep", other, "-o", out), str(out), "made by a different sweep spec")
    assert_one_line_error(cli(capsys, "sweep", other, "-o", out, "--dry-run"), "made by a different sweep spec")
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    assert_one_line_error(cli(capsys, "sweep", SMALL, "-o", foreign), "not a sweep directory", "thesis.tex")


def test_a_second_sweep_in_the_same_dir_is_refused(tmp_path):
    path = write_sweep(tmp_path, "seed = 3", "lattice.shape = [16, 16]\nsimulation.steps = 5")
    store.prepare(load_plan(path), tmp_path / "out")
    with store.DirLock(tmp_path / "out"):
        proc = gpusim("sweep", path, "-o", tmp_path / "out", "--backend", "numpy")
    assert_one_line_error(proc, "another sweep is working in it", f"pid {os.getpid()}")


# -------------------------------------------------- summary, summarize, plot


def test_summary_h5_reads_with_pandas(small_serial):
    import pandas

    out, _ = small_serial
    table = pandas.read_hdf(out / "summary.h5", "runs")
    plan = load_plan(SMALL)
    assert list(table["run_id"]) == [r.id for r in plan.runs]
    assert list(table["seed"]) == [r.seed for r in plan.runs] and table["seed"].dtype == np.uint64
    assert set(table["arm"]) == {"control", "anti-PD-1"}
    assert list(table["tumour.mutations_per_division"]) == \
        [r.params["tumour.mutations_per_division"] for r in plan.runs]
    assert (table["status"] == "complete").all()
    for row in table.itertuples():
        with h5py.File(store.run_path(out, row.run_id)) as f:
            cells = f["observables/tumour_cells/value"][()]
            assert row.tumour_cells_final == cells[-1] and row.tumour_cells_max == cells.max()
            assert row.outcome == f.attrs.get("outcome", "-") and row.response == f.attrs.get("response", "-")
            if "tumour_change" in f.attrs:  # the run's own figure, where it has therapy
                assert row.tumour_change == f.attrs["tumour_change"]
        assert row.therapy_start_day == 0.1  # the anti-PD-1 start, used for the control arm too
        assert np.isclose(row.tumour_change,
                          (row.tumour_cells_final - row.tumour_cells_at_therapy_start)
                          / row.tumour_cells_at_therapy_start)
        assert row.runtime_s > 0 and np.isclose(row.days, 50 * 10 / 1440)


def test_summarize_prints_rates_per_arm_and_parameter(small_serial, capsys):
    out, _ = small_serial
    proc = cli(capsys, "summarize", out)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"sweep {out}: 8 runs (8 complete)" in " ".join(text.split())  # wrapped at 100 columns if the path is long
    import pandas

    table = pandas.read_hdf(out / "summary.h5", "runs")
    control = table[table["arm"] == "control"]
    assert control["outcome"].isin(OUTCOMES).all()
    rates = [f"{100 * (control['outcome'] == o).mean():.0f}" for o in OUTCOMES]
    assert all(len(line) <= 100 for line in text.splitlines())
    blocks = [line.split() for line in text.splitlines() if line.strip().startswith("control")]
    row = blocks[0] + blocks[1][1:]  # the per-arm table's two column blocks, each led by the arm
    n = len(OUTCOMES)
    assert row[3:4 + n] == [*rates, "0"], row
    assert row[4 + n:9 + n] == ["-"] * 5  # no therapy, no response
    assert "per arm:" in text and "per tumour.mutations_per_division (all arms):" in text
    arm_rows = [line.split() for line in text.splitlines() if line.strip().startswith(("control", "anti-PD-1"))]
    assert [r[:3] for r in arm_rows[:2]] == [["control", "4", "4"], ["anti-PD-1", "4", "4"]]
    assert "outcome?: complete runs whose file has no outcome attribute" in " ".join(text.split())
    assert "('" not in text  # no Python tuples
    lines = text.splitlines()
    for key in ("tumour.mutations_per_division", "immune.recruitment_rate_per_day"):
        start = lines.index(f"per {key} (all arms):") + 2
        values = [float(line.split()[0]) for line in lines[start:start + 2]]
        assert values == sorted(values), values  # ascending parameter order
        start = lines.index(f"per {key} and arm:") + 2
        labels = [line.split("  ")[1].strip() if line.startswith("  ") else line for line in lines[start:start + 4]]
        assert [x.split(", ")[1] for x in labels] == ["control", "anti-PD-1"] * 2, labels
        assert [float(x.split(", ")[0]) for x in labels] == sorted(float(x.split(", ")[0]) for x in labels)
    assert_one_line_error(cli(capsys, "summarize", out / "nope"), "nope: no such file")


def test_plot_writes_a_png_with_three_kinds_of_panel(small_serial, tmp_path, capsys):
    out, _ = small_serial
    png = tmp_path / "sweep.png"
    proc = cli(capsys, "plot", out, "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    from gpusim.plots.sweep import figure

    fig = figure(out)
    titles = [ax.get_title() for ax in fig.axes]
    assert_nothing_over_the_data(fig)
    assert "arm control" in titles and "arm anti-PD-1" in titles
    assert any(t.startswith("response per arm") for t in titles)
    assert any(t.startswith("waterfall") for t in titles)
    assert_one_line_error(cli(capsys, "plot", out, "-o", tmp_path / "no" / "x.png"), "does not exist")


def test_import_gpusim_does_not_load_mpi4py():
    code = ("import sys, gpusim, gpusim.cli.main, gpusim.sweep.driver, gpusim.sweep.queue; "
            "print([m for m in ('mpi4py', 'pandas', 'matplotlib', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ------------------------------------------------------- ranks and nodes


def test_each_rank_gets_its_gpu(monkeypatch):
    import gpusim.backends
    from gpusim.sweep.worker import configure_rank

    monkeypatch.setattr(gpusim.backends, "resolve", lambda name: "cuda")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    monkeypatch.setenv("GPUSIM_CUDA_DEVICE", "0")
    assert configure_rank("auto", 5, 4) == ("cuda", "cuda device 1 of 4")
    assert os.environ["GPUSIM_CUDA_DEVICE"] == "1"
    assert configure_rank("auto", 2, 6) == ("cuda", "cuda device 2 of 4; 6 ranks share 4 GPUs")


def test_cpu_ranks_share_the_node_cores(monkeypatch):
    import gpusim.backends
    from gpusim.sweep.worker import configure_rank

    monkeypatch.setattr(gpusim.backends, "resolve", lambda name: "cpu")
    monkeypatch.setenv("SLURM_CPUS_ON_NODE", "16")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert configure_rank("cpu", 0, 3)[0] == "cpu" and os.environ["OMP_NUM_THREADS"] == "5"
    monkeypatch.delenv("OMP_NUM_THREADS")
    configure_rank("cpu", 0, 40)
    assert os.environ["OMP_NUM_THREADS"] == "1"  # at least one
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert configure_rank("cpu", 1, 3)[1] == "cpu, OMP_NUM_THREADS=7 (set by the user)"


@pytest.mark.parametrize("variables, launched", [
    ({}, False),
    ({"PMI_RANK": "0", "PMI_SIZE": "3"}, True),  # mpiexec (hydra), srun --mpi=pmi2
    ({"OMPI_COMM_WORLD_SIZE": "4"}, True),
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8"}, False),  # a batch script, not a task of srun
    ({"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}, False),
    ({"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "4"}, True),
])
def test_mpi_is_used_when_a_launcher_started_us(monkeypatch, variables, launched):
    from gpusim.sweep import driver

    for name in list(os.environ):
        if name.startswith(("PMI", "OMPI_", "MPI_LOCAL", "SLURM_")):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert driver.mpi_launched() is launched


def test_srun_without_pmi_is_refused(tmp_path):
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install '.[test]')")
    from conftest import cli_env as env

    proc = gpusim("sweep", SMALL, "-o", tmp_path / "out", env=env(SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="2"))
    assert_one_line_error(proc, "srun started 2 tasks but MPI sees one: launch with srun --mpi=pmi2")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------- virtual patients


def test_population_draws_one_patient_per_point_and_replicate_shared_by_the_arms():
    pop = {"patient.body_weight_kg": {"median": 80.0, "cv": 0.25},
           "immune.pdl1_suppression": {"distribution": "uniform", "min": 0.8, "max": 1.0}}
    arms = [{"name": "a", "therapy": "none"}, {"name": "b", "therapy": "none"}]
    s = spec(replicates=200, population=pop, arms=arms)
    runs = expand(s)
    patients = {(r.arm, r.replicate): tuple(o for o in r.overrides if o.startswith(("patient", "immune")))
                for r in runs}
    assert all(patients["a", k] == patients["b", k] for k in range(200))  # paired arms
    weights = np.array([float(patients["a", k][1].split("=")[1]) for k in range(200)])
    assert len(set(weights)) == 200
    assert np.median(weights) == pytest.approx(80.0, rel=0.05)
    assert np.std(np.log(weights)) == pytest.approx(np.sqrt(np.log1p(0.25**2)), rel=0.15)
    pdl1 = np.array([float(patients["a", k][0].split("=")[1]) for k in range(200)])
    assert pdl1.min() >= 0.8 and pdl1.max() <= 1.0
    assert expand(spec(replicates=200, population=pop, arms=arms)) == runs  # fixed by the sweep seed
    assert expand(spec(replicates=200, population=pop, arms=arms[:1]))[0].overrides == runs[0].overrides
    assert [r.id for r in runs] == [r.id for r in expand(spec(replicates=200, arms=arms))]  # ids unchanged


@pytest.mark.parametrize("population,message", [
    ({"patient.body_weight_kg": {"median": 80.0}}, "a lognormal distribution takes median and cv"),
    ({"patient.body_weight_kg": {"distribution": "uniform", "min": 2, "max": 1}}, "max 1.0 is below min 2.0"),
    ({"therapy.dose": {"median": 1.0, "cv": 0.1}}, "a patient varies in model parameters"),
])
def test_bad_populations_are_one_line_errors(population, message):
    from gpusim.errors import InputError

    with pytest.raises(InputError) as err:
        spec(population=population)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_population_keys_must_be_config_keys(tmp_path, capsys):
    path = write_sweep(tmp_path, 'seed = 1\n[population]\n"patient.weight_kg" = {median = 80.0, cv = 0.2}')
    assert_one_line_error(cli(capsys, "sweep", path, "-o", tmp_path / "o", "--dry-run"),
                          "patient.weight_kg: no such config key")


def test_the_virtual_checkmate_067_loads():
    plan = load_plan(SMALL.parent / "trial_melanoma.toml")
    assert [a.name for a in plan.spec.arms] == ["nivolumab", "ipilimumab", "nivolumab+ipilimumab"]
    assert len(plan.runs) == 3 * 64
    weights = {plan.config(r).patient.body_weight_kg for r in plan.runs}
    assert len(weights) == 64  # 64 patients, each in every arm


def test_publish_moves_the_sidecar_before_the_run_file(tmp_path, monkeypatch):
    """A kill between the two renames of a finished run never leaves the
    ``.part``'s sidecar beside a finished run (the MPI kill test's stray
    ``ID.h5.xmf``): the sidecar moves first, the run file last."""
    import os

    from gpusim.sweep.worker import _publish

    part, path = tmp_path / "r.h5.part", tmp_path / "r.h5"
    part.write_bytes(b"h5")
    (tmp_path / "r.h5.xmf").write_text('<DataItem>r.h5.part:/fields/x</DataItem>')
    real = os.replace

    def killed(src, dst):
        if str(src) == str(part):
            raise KeyboardInterrupt  # the kill, at the last rename
        return real(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        _publish(part, path)
    monkeypatch.setattr(os, "replace", real)
    assert part.exists() and not path.exists() and not (tmp_path / "r.h5.xmf").exists()
    _publish(part, path)  # the rerun's (after it resumed the .part)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5", "r.xmf"]
    assert (tmp_path / "r.xmf").read_text() == '<DataItem>r.h5:/fields/x</DataItem>'
