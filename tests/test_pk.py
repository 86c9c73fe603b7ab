"""Antibody pharmacokinetics (gpusim.pk) and dosed therapies: known
answers of the two-compartment model, the schedule's effect on a step,
regimen rules, and byte identity of runs under antibodies (numpy == cpu,
batched == alone with a patient per run)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import QUICKSTART, assert_one_line_error, assert_same_run, cli, make_config
from scipy.linalg import expm

import gpusim
from gpusim.config import load_config
from gpusim.engine.param_table import TherapyGroup
from gpusim.params import model_params
from gpusim.pk import DRUGS, concentration, occupancy, steady_state_peak, terminal_half_life_days
from gpusim.therapy import Patients, at_step

DAY = {"dt_minutes": 1440.0}


def _series(entry: dict, days: int, patient: dict | None = None) -> np.ndarray:
    """The antibody's concentration at the start of each of ``days`` daily steps, as a run sees it."""
    cfg = make_config(simulation=DAY, therapy=[entry], **({"patient": patient} if patient else {}))
    ab = cfg.therapy[0]
    return np.array([float(ab.concentration(float(k), Patients([cfg.patient]))[0]) for k in range(days)])


@pytest.mark.parametrize("drug", sorted(DRUGS))
def test_simulated_terminal_half_life_is_the_models(drug):
    c = _series({"kind": "anti_ctla4" if drug == "ipilimumab" else "anti_pd1", "drug": drug,
                 "dose_mg_per_kg": 3.0, "start_day": 0.0}, 301)
    slope = np.polyfit(np.arange(200, 301), np.log(c[200:301]), 1)[0]  # the terminal phase only
    simulated = math.log(2) / -slope
    configured = terminal_half_life_days(DRUGS[drug].pk())
    assert abs(simulated / configured - 1) < 0.02, (simulated, configured)


def test_configured_half_life_of_a_one_compartment_drug():
    """Q = 0: one compartment, t1/2 = ln 2 V1 / CL exactly."""
    entry = {"kind": "anti_pd1", "drug": "test-mab", "dose_mg": 100.0, "start_day": 0.0,
             "clearance_l_per_day": 0.3, "v1_l": 3.0, "q_l_per_day": 0.0, "v2_l": 1.0, "ec50_ug_per_ml": 1.0}
    c = _series(entry, 60)
    simulated = math.log(2) / -np.polyfit(np.arange(20, 60), np.log(c[20:60]), 1)[0]
    assert abs(simulated / (math.log(2) * 3.0 / 0.3) - 1) < 0.02


def test_accumulation_at_steady_state_matches_the_closed_form():
    niv = DRUGS["nivolumab"]
    pk, dose, tau = niv.pk(), 240.0, 14.0
    days = [k * tau for k in range(60)]  # 60 doses: the geometric series has converged to 1e-12
    peak = concentration(pk, [dose] * 60, days, days[-1])
    assert float(peak) == pytest.approx(float(steady_state_peak(pk, dose, tau)), rel=1e-10)
    first = concentration(pk, [dose], [0.0], 0.0)
    alpha, beta, a, b = pk.macro()
    ratio = (a / (1 - math.exp(-alpha * tau)) + b / (1 - math.exp(-beta * tau))) / (a + b)
    assert float(peak / first) == pytest.approx(float(ratio), rel=1e-10)
    # Trough at steady state: one interval after the peak.
    trough = concentration(pk, [dose] * 60, days, days[-1] + tau - 1e-9)
    assert float(trough) == pytest.approx(float(dose * (a * math.exp(-alpha * tau) / (1 - math.exp(-alpha * tau))
                                                        + b * math.exp(-beta * tau) / (1 - math.exp(-beta * tau)))),
                                          rel=1e-8)


@pytest.mark.parametrize("drug,weight,dose_mg_per_kg,day", [
    ("nivolumab", 80.0, 3.0, 10.0), ("pembrolizumab", 60.0, 2.0, 21.0), ("ipilimumab", 95.0, 3.0, 5.0)])
def test_concentration_by_hand(drug, weight, dose_mg_per_kg, day):
    """The closed form against the matrix exponential of the two-compartment
    ODE (an independent solution), with the weight covariates worked out here."""
    d = DRUGS[drug]
    r = weight / d.reference_weight_kg
    cl, v1, q, v2 = (p * r**e for p, e in zip((d.clearance_l_per_day, d.v1_l, d.q_l_per_day, d.v2_l),
                                               d.weight_exponents))
    k = np.array([[-(cl + q) / v1, q / v2], [q / v1, -q / v2]])  # amounts (mg) in central, peripheral
    amounts = expm(k * day) @ np.array([dose_mg_per_kg * weight, 0.0])
    kind = "anti_ctla4" if drug == "ipilimumab" else "anti_pd1"
    got = _series({"kind": kind, "drug": drug, "dose_mg_per_kg": dose_mg_per_kg, "start_day": 0.0}, int(day) + 1,
                  {"body_weight_kg": weight})[int(day)]
    assert got == pytest.approx(amounts[0] / v1, rel=1e-12)


def test_nivolumab_by_hand_numbers():
    """Bajaj 2017 typical patient (80 kg), 3 mg/kg: C(0) = 240 / 3.63 and the
    half-life of the terminal phase from the macro constants worked by hand."""
    pk = DRUGS["nivolumab"].pk()
    assert float(concentration(pk, [240.0], [0.0], 0.0)) == pytest.approx(66.1157, rel=1e-5)
    k10, k12, k21 = 0.23 / 3.63, 0.770 / 3.63, 0.770 / 2.78
    s = k10 + k12 + k21
    beta = (s - math.sqrt(s * s - 4 * k10 * k21)) / 2
    assert float(terminal_half_life_days(pk)) == pytest.approx(math.log(2) / beta, rel=1e-12)
    assert 20 < math.log(2) / beta < 21


def test_pd1_occupancy_stays_high_for_eight_weeks_after_one_dose():
    """Brahmer et al. 2010 (J Clin Oncol 28:3167): PD-1 occupancy about 70 %
    for weeks after one dose; here >= 60 % at day 56 after 3 mg/kg."""
    cfg = make_config(simulation=DAY, therapy=[
        {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3.0, "start_day": 0.0}])
    levels = [at_step(cfg, k).blockade for k in range(57)]
    assert min(levels) >= 0.6 and levels[0] > 0.99


def test_occupancy_is_a_hill_curve():
    assert float(occupancy(3.0, 1.0, 2.0)) == pytest.approx(0.9)
    assert np.all(np.diff(occupancy(np.linspace(0, 10, 50), 0.5)) > 0)


def test_dosed_schedules_and_combinations():
    cfg = make_config(simulation=DAY, therapy=[
        {"kind": "chemotherapy", "start_day": 2.0, "interval_days": 21.0, "doses": 3, "tumour_kill_prob": 0.5},
        {"kind": "adoptive_transfer", "days": [1.0, 4.0], "cells": 5},
        {"kind": "anti_ctla4", "drug": "ipilimumab", "dose_mg_per_kg": 3.0, "start_day": 0.0,
         "interval_days": 21.0, "doses": 4, "max_recruitment_multiplier": 3.0},
        {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg": 240.0, "start_day": 0.0, "interval_days": 14.0,
         "doses": 10}])
    hits = [k for k in range(100) if at_step(cfg, k).chemo_tumour_kill_prob]
    assert hits == [2, 23, 44]
    assert [k for k in range(10) if at_step(cfg, k).transfers] == [1, 4]
    th = at_step(cfg, 10)
    assert 2.9 < th.priming < 3.0 and th.priming_full == 3.0  # ipilimumab near full occupancy
    assert th.recruitment_multiplier == 1.0 and 0.95 < th.priming_fraction < 1.0
    assert 0.97 < at_step(cfg, 10).blockade < 1.0


def test_a_level_that_changes_every_step_rewrites_only_its_fields():
    """Antibody occupancies move every step and write scalars per run; the
    recruitment tables are rewritten only when the vaccine window opens or
    closes (days 3 and 5), not when ipilimumab's priming moves."""
    from gpusim.params import step_params

    cfgs = [make_config(simulation=DAY, patient={"body_weight_kg": w}, therapy=[
        {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3.0, "start_day": 0.0},
        {"kind": "anti_ctla4", "drug": "ipilimumab", "dose_mg_per_kg": 0.01, "start_day": 1.0},
        {"kind": "vaccine", "start_day": 3.0, "end_day": 5.0, "recruitment_multiplier": 2.0}]) for w in (50, 90, 120)]
    g = TherapyGroup(cfgs, [model_params(c) for c in cfgs], [4, 5, 6])
    first, _ = g.updates(0)
    assert sorted(first) == ["p_chemo_tcell", "p_chemo_tumour", "p_exhaust", "p_myeloid_deplete", "p_pdl1_pass",
                             "p_reinvigorate", "p_treg_deplete", "recruit", "recruit_primed", "recruit_priming"]
    every_step = {"p_exhaust", "p_pdl1_pass", "p_reinvigorate", "recruit_priming", "p_treg_deplete"}
    for k in range(1, 8):
        fields, _ = g.updates(k)
        want = every_step | ({"recruit", "recruit_primed"} if k in (3, 5) else set())
        assert set(fields) == want, k
        assert fields["p_exhaust"][0].tolist() == [4, 5, 6]
        assert 0 < int(fields["recruit_priming"][1][0]) < 2**32  # part-way primed: a small dose
        # ... and the values are those of each run alone.
        for i, c in enumerate(cfgs):
            alone = step_params(model_params(c), at_step(c, k))
            for name, (_, values) in fields.items():
                np.testing.assert_array_equal(values[i], getattr(alone, name), err_msg=f"{name} step {k}")


def test_priming_interpolates_between_the_unprimed_and_the_fully_primed_table():
    """recruit_threshold (the twin of the kernel's) is the unprimed table at
    no priming, the table at the full multiplier at full priming, and in
    between the chord, within one threshold unit of the integer formula."""
    from gpusim.params import recruit_table, step_params
    from gpusim.reference.tcell import recruit_threshold
    from gpusim.therapy import StepTherapy

    mp = model_params(make_config(immune={"recruitment_rate_per_day": 30.0}))
    level = np.arange(256)
    lo, hi = recruit_table(mp, 1.0).astype(np.float64), recruit_table(mp, 4.0).astype(np.float64)
    for priming, weight in ((1.0, 0.0), (4.0, 1.0), (2.5, 0.5), (1.3, 0.1)):
        sp = step_params(mp, StepTherapy(priming=priming, priming_full=4.0))
        got = recruit_threshold(sp, level).astype(np.float64)
        assert np.all(np.abs(got - (lo + weight * (hi - lo))) <= 1.0), priming
    assert np.array_equal(recruit_threshold(step_params(mp, StepTherapy(priming=4.0, priming_full=4.0)), level), hi)


@pytest.mark.parametrize("entry,message", [
    ({"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": -3, "start_day": 0},
     "therapy.0.anti_pd1.dose_mg_per_kg: Input should be greater than 0"),
    ({"kind": "anti_pd1", "drug": "cemiplimab", "dose_mg": 350, "start_day": 0},
     "drug 'cemiplimab' has no PK parameters"),
    ({"kind": "anti_pd1", "drug": "ipilimumab", "dose_mg": 350, "start_day": 0}, "ipilimumab binds CTLA-4"),
    ({"kind": "anti_pd1", "drug": "nivolumab", "dose_mg": 240, "start_day": 0, "doses": 3},
     "3 doses need interval_days"),
    ({"kind": "chemotherapy", "days": [1, 1], "tumour_kill_prob": 0.3}, "one dose a day at most"),
    ({"kind": "chemotherapy", "day": 1, "start_day": 2, "tumour_kill_prob": 0.3}, "give the dose days one way"),
])
def test_bad_regimens_are_one_line_and_exit_2(capsys, tmp_path, entry, message):
    from gpusim.config import toml_value

    proc = cli(capsys, "run", QUICKSTART, "-o", tmp_path / "x.h5", "--set", f"therapy={toml_value([entry])}")
    assert_one_line_error(proc, message)
    assert not (tmp_path / "x.h5").exists()


def test_overlapping_courses_of_one_drug_are_refused(capsys, tmp_path):
    from gpusim.config import toml_value

    niv = {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3, "interval_days": 14}
    bad = [dict(niv, start_day=0, doses=6), dict(niv, start_day=56, doses=4)]
    proc = cli(capsys, "run", QUICKSTART, "-o", tmp_path / "x.h5", "--set", f"therapy={toml_value(bad)}")
    assert_one_line_error(proc, "two courses of nivolumab overlap (days 0-70 and 56-98)")
    good = [dict(niv, start_day=0, doses=4), dict(niv, start_day=56, doses=4)]  # back to back: a sequence
    make_config(therapy=good)


PK_ARM = ('therapy=[{kind = "anti_pd1", drug = "nivolumab", dose_mg_per_kg = 1.0, start_day = 0.1, '
          'interval_days = 0.25, doses = 3}, {kind = "anti_ctla4", drug = "ipilimumab", dose_mg_per_kg = 3.0, '
          'days = [0.2, 0.5], max_recruitment_multiplier = 4.0}, '
          '{kind = "chemotherapy", start_day = 0.3, interval_days = 0.2, doses = 2, tumour_kill_prob = 0.2}]')
SMALL = ["lattice.shape=[30,30]", "tumour.initial_radius_cells=3.0", "tumour.initial_pdl1=true",
         "immune.initial_tcells=20", "immune.recruitment_rate_per_day=20.0", "output.frame_every_steps=20",
         "simulation.steps=60", PK_ARM]


def _pk_cohort():
    # Tiny EC50 overrides are not needed: the doses (mg) are large against
    # the EC50s, and the patients differ in weight and clearance, so the
    # levels differ per run and change every step.
    return [load_config(QUICKSTART, [*SMALL, f"simulation.seed={7 + i}", f"patient.body_weight_kg={w}",
                                     f"patient.clearance_factor={f}"])
            for i, (w, f) in enumerate([(55.0, 0.7), (80.0, 1.0), (110.0, 1.6)])]


def test_pk_runs_numpy_equals_cpu_and_batched_equals_alone(tmp_path):
    cfgs = _pk_cohort()
    assert len({at_step(c, 30).priming for c in cfgs}) == 3  # a patient per run
    alone = []
    for i, c in enumerate(cfgs):
        alone.append(tmp_path / f"np{i}.h5")
        gpusim.run_to_file(c, alone[-1], backend="numpy")
    outs = [tmp_path / f"cpu{i}.h5" for i in range(3)]
    gpusim.run_batch(cfgs, outs, backend="cpu", batch=3)
    for a, b in zip(alone, outs):
        assert_same_run(b, a)
    single = tmp_path / "cpu_alone.h5"
    gpusim.run_to_file(cfgs[1], single, backend="cpu")
    assert_same_run(single, alone[1])
