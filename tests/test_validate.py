"""gpusim validate: the quick reproduction passes every criterion (CI fails
when one fails), the report has a section per result, and a failed
criterion makes the command exit 1."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from gpusim.validate import SECTIONS
from gpusim.validate.report import Section


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, _ in SECTIONS])
def test_quick_validation_passes_every_criterion(tmp_path, installed, name):
    """The CI run of `gpusim validate --quick`, a section per test (so the
    sections run side by side on CI's cores: together about 3 minutes of
    one core), by the gpusim installed from the wheel (``pip install .``),
    outside the checkout: it finds its scenario configs in the package."""
    proc = subprocess.run([str(installed / "gpusim"), "validate", "--quick", "--only", name, "--processes", "1",
                           "-o", str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = (tmp_path / "validation.md").read_text()
    assert report.count(": PASS\n") == 1 and ": FAIL" not in report, report
    figures = list(tmp_path.glob("validation_*.png"))
    assert figures and all(f.read_bytes()[:4] == b"\x89PNG" for f in figures)


def test_failed_criterion_exits_1_and_says_fail(tmp_path, monkeypatch, capsys):
    from gpusim import validate
    from gpusim.cli.main import main

    monkeypatch.setattr(validate, "SECTIONS", [
        ("good", lambda out, quick, n: Section("Holds", "lit", "crit", True, ["1"])),
        ("bad", lambda out, quick, n: Section("Broken", "lit", "crit", False, ["2"]))])
    assert main(["validate", "--quick", "-o", str(tmp_path)]) == 1
    report = (tmp_path / "validation.md").read_text()
    assert "## Holds: PASS" in report and "## Broken: FAIL" in report and "1 of 2 criteria hold" in report
    assert "a criterion FAILED" in capsys.readouterr().out
    assert main(["validate", "-o", str(tmp_path), "--only", "good"]) == 0


def test_unknown_section_is_one_line_exit_2(tmp_path, capsys):
    from gpusim.cli.main import main

    assert main(["validate", "-o", str(tmp_path), "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--only nope: no such section" in err and "\n" not in err


# The microenvironment sections' criteria on made-up cohorts: each holds on
# numbers that satisfy it and fails on numbers that do not (no simulation).

def _fake_runs(monkeypatch, make):
    from gpusim.validate import microenvironment

    monkeypatch.setattr(microenvironment, "run_jobs",
                        lambda jobs, processes, fn=None: [make(i, job) for i, job in enumerate(jobs)])


@pytest.mark.parametrize("near,split,passed", [(5.0, True, True), (1.1, True, False), (5.0, False, False)])
def test_adaptive_resistance_criterion(tmp_path, monkeypatch, near, split, passed):
    """Passes when induced-PD-L1 cells are >= 3x as often near T cells and the
    PD-L1-high half responds more often; fails when either does not hold."""
    from gpusim.validate.microenvironment import adaptive_resistance_section

    def make(i, job):
        high = i % 2 == 0
        return {"spatial": {"induced_pdl1_fraction": 0.5 + 0.01 * i if high else 0.1 + 0.01 * i,
                            "induced_pdl1_near_tcell_ratio": near},
                "at_day": {"tcells": 10, "tumour_cells": 100},
                "response": "CR" if high == split else "PD"}
    _fake_runs(monkeypatch, make)
    assert adaptive_resistance_section(tmp_path, True, 1).passed is passed
    assert (tmp_path / "validation_adaptive_resistance.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("sign,combination,passed", [(-1, "CR", True), (1, "CR", False), (-1, "PD", False)])
def test_tregs_criterion(tmp_path, monkeypatch, sign, combination, passed):
    """Passes when a higher CD8/Treg ratio goes with less growth untreated and
    the combination responds more than anti-CTLA-4; fails otherwise."""
    from gpusim.validate.microenvironment import TREG_ARMS, tregs_section

    def make(i, job):
        name = next((a for a, o in TREG_ARMS.items() if o and o[0] in job.overrides), "anti-CTLA-4 + anti-PD-1")
        response = {"anti-CTLA-4 + anti-PD-1": combination, "anti-PD-1": "PR", "anti-CTLA-4": "PD"}.get(name, "PD")
        return {"response": response, "at_day": {"cd8_treg_ratio": 1.0 + i % 4}, "tumour_change": sign * (i % 4)}
    _fake_runs(monkeypatch, make)
    assert tregs_section(tmp_path, True, 1).passed is passed


@pytest.mark.parametrize("at_end,after,passed", [(0.05, 0.9, True), (0.6, 0.9, False), (0.05, 0.1, False)])
def test_reinvigoration_criterion(tmp_path, monkeypatch, at_end, after, passed):
    """Passes when the exhausted fraction with the rule falls below a quarter
    of that without by the end of the blockade and is back above half 3 days
    later; fails when it does not fall or does not come back."""
    from gpusim.validate import reinvigoration as rv

    def make(i, job):
        rate, _ = job
        days = np.arange(rv.LAST + 1)
        exhausted = np.where(days < rv.START, 1.0, np.where(days <= rv.END, at_end, after)) if rate else np.ones(len(days))
        tumour = 1000 + 100 * days - (500 * ((days >= rv.START) & (days <= rv.END)) if rate else 0)
        return {"exhausted": exhausted.tolist(), "tcells": [100] * len(days), "tumour_cells": tumour.tolist()}
    monkeypatch.setattr(rv, "run_jobs", lambda jobs, processes, fn=None: [make(i, job) for i, job in enumerate(jobs)])
    assert rv.reinvigoration_section(tmp_path, True, 1).passed is passed
    assert (tmp_path / "validation_reinvigoration.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("rim,first,passed", [(170.0, 410.0, True), (300.0, 410.0, False), (170.0, 700.0, False)])
def test_hypoxia_criterion(tmp_path, monkeypatch, rim, first, passed):
    """Passes for a 100-250 um rim and a first necrosis at 200-500 um;
    fails for a rim too thick or a core that appears too late."""
    from gpusim.validate.microenvironment import hypoxia_section

    r = np.linspace(10, 300, 15)
    profile = {"r_um": r, "live": r / 300, "hypoxic": r / 600, "necrotic": 1 - r / 300, "oxygen_mmHg": r / 10}

    def make(i, job):
        kind, arg = job
        if kind == "grown":
            return {"seed": arg, "first_necrosis_um": first, "days": 10.0, "diameter_um": 500.0, "rim_um": rim,
                    "necrotic_sites": 100, "hypoxic_fraction": 0.5, "necrotic_fraction": 0.1, "profile": profile}
        diameter = 20.0 * arg[0]
        return {"radius": arg[0], "diameter_um": diameter, "necrotic_sites": int(diameter > 300), "rim_um": 150.0,
                "hypoxic_fraction": 0.3, "necrotic_fraction": 0.1 * (diameter > 300)}
    _fake_runs(monkeypatch, make)
    assert hypoxia_section(tmp_path, True, 1).passed is passed


def test_batched_jobs_give_the_results_of_jobs_alone():
    """validate's cohorts run as cpu batches (runs.run_jobs): every job's
    result, early stops and the spatial statistics at its day included, is
    that of the job run alone, whatever its batch."""
    from gpusim.validate.runs import CONFIGS, Job, run_jobs, simulate

    small = ["lattice.shape=[30,30]"]
    jobs = [Job(CONFIGS / "adaptive_resistance.toml", [*small, "simulation.steps=150", f"simulation.seed={s}"],
                from_day=1.0, spatial=True) for s in (1, 2)]
    # eliminated at different steps: each leaves the batch on its own
    jobs += [Job(CONFIGS / "immunoediting_elimination.toml", [*small, f"simulation.seed={s}"]) for s in (1, 2)]
    alone = [simulate(j) for j in jobs]
    batched = run_jobs(jobs, 1)
    assert len({r["days"] for r in alone[2:]}) == 2 and all(r["outcome"] == "elimination" for r in alone[2:])
    assert alone[0]["spatial"] is not None
    np.testing.assert_equal(batched, alone)  # NaN == NaN (no tumour change before from_day)


def test_sections_start_their_workers_through_run_jobs():
    """A section's worker processes come from runs.run_jobs (spawned, one
    OpenMP thread each): a forked worker of a process whose OpenMP threads
    have run (an earlier section's batch) hangs in libgomp, as the myeloid
    section's fork pool did in a full `gpusim validate`."""
    from pathlib import Path

    import gpusim.validate as v

    for path in Path(v.__file__).parent.glob("*.py"):
        if path.name != "runs.py":
            text = path.read_text()
            assert "ProcessPoolExecutor" not in text and "multiprocessing" not in text, path.name
