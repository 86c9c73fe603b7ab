"""Antibodies against published pharmacology, and a virtual CheckMate 067:
PD-1 occupancy after one dose of nivolumab, the blockade's persistence
after the last dose, and the ranking of the three arms of the trial."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .report import Section, figure
from .runs import CONFIGS

DAY_STEPS = {"simulation": {"dt_minutes": 60.0}}


def _blockade(therapy: list[dict], days: float, patient: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(days, blockade level) at every hourly step, as a run applies them."""
    from ..config import Config
    from ..therapy import Patients, effect

    cfg = Config.model_validate({**DAY_STEPS, "therapy": therapy, **({"patient": patient} if patient else {})})
    dt = cfg.simulation.dt_days
    steps = np.arange(int(round(days / dt)) + 1)
    patients = Patients([cfg.patient])
    return steps * dt, np.array([effect(cfg.therapy, dt, int(k), patients).blockade[0] for k in steps])


def pd1_occupancy_section(out: Path, quick: bool, processes: int) -> Section:
    import matplotlib.pyplot as plt

    one_dose = [{"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3.0, "start_day": 0.0}]
    t, occ = _blockade(one_dose, 120.0)
    below = t[np.flatnonzero(occ < 0.6)]
    first_below = float(below[0]) if len(below) else math.inf
    ok = first_below >= 56.0
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(t, 100 * occ, color="k", label="reference patient (80 kg)")
    for w, f in ((50.0, 2.0), (120.0, 2.0), (50.0, 0.5)):
        tw, ow = _blockade(one_dose, 120.0, {"body_weight_kg": w, "clearance_factor": f})
        ax.plot(tw, 100 * ow, lw=0.8, ls="--", label=f"{w:.0f} kg, clearance x {f:g}")
    ax.axhline(60, color="tab:red", lw=0.8)
    ax.axvline(56, color="tab:red", lw=0.8, ls=":")
    ax.set(xlabel="days after one 3 mg/kg dose of nivolumab", ylabel="PD-1 occupancy (%)", ylim=(0, 102))
    ax.legend(fontsize=7, loc="lower left")
    return Section(
        "PD-1 occupancy after one dose of nivolumab",
        "After a single dose of nivolumab (0.3-10 mg/kg), PD-1 on circulating T cells stayed about 70 % occupied "
        "for weeks, more than 2 months after the dose (Brahmer et al. 2010, J Clin Oncol 28:3167).",
        "Occupancy of the reference patient (80 kg; Bajaj 2017 population PK, EC50 = KD) >= 60 % for at least "
        "8 weeks after one 3 mg/kg dose.",
        ok,
        [f"occupancy {100 * occ[int(d * 24)]:.1f} % at day {d}" for d in (1, 28, 56, 84)]
        + [f"first below 60 % at day {first_below:.1f}" if math.isfinite(first_below)
           else "never below 60 % within 120 days"],
        figure(out / "validation_pd1_occupancy.png", fig),
        "Occupancy here is the Emax curve of the serum concentration with EC50 at the binding affinity; "
        "the measured plateau of about 70 % (not 100 %) reflects the assay (free vs bound receptor, "
        "internalisation), which the model does not represent.")


def blockade_persistence_section(out: Path, quick: bool, processes: int) -> Section:
    """Four doses q2w; after the last, the blockade stays above 50 % for
    t1/2 x log2(C_terminal / EC50): checked at three clearances."""
    import matplotlib.pyplot as plt

    from ..pk import DRUGS

    niv = DRUGS["nivolumab"]
    course = {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3.0, "start_day": 0.0,
              "interval_days": 14.0, "doses": 4}
    last = 42.0
    numbers, ok = [], True
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for factor in (0.5, 1.0, 2.0):
        pk = niv.pk(80.0, factor)
        alpha, beta, a, b = pk.macro()
        half = math.log(2) / beta
        dose = 240.0
        # The terminal exponential's amplitude just after the last dose, summed over the doses.
        amplitude = sum(dose * b * math.exp(-beta * (last - d)) for d in (0.0, 14.0, 28.0, 42.0))
        predicted = half * math.log2(amplitude / niv.ec50_ug_per_ml)
        t, level = _blockade([course], last + 2.5 * predicted, {"clearance_factor": factor})
        after = t[(t > last) & (level < 0.5)]
        simulated = float(after[0] - last) if len(after) else math.inf
        good = abs(simulated - predicted) <= max(0.02 * predicted, 1 / 24)
        ok &= good
        numbers.append(f"clearance x {factor:g}: terminal half-life {half:.1f} d; blockade >= 50 % for "
                       f"{simulated:.1f} d after the last dose (closed form t1/2 log2(C_terminal/EC50) = "
                       f"{predicted:.1f} d)")
        ax.plot(t - last, 100 * level, label=f"t1/2 = {half:.0f} d")
    ax.axhline(50, color="k", lw=0.6)
    ax.set(xlabel="days after the 4th dose (3 mg/kg q2w)", ylabel="blockade level (%)", ylim=(0, 102))
    ax.legend(fontsize=8)
    return Section(
        "Blockade persists after the last dose for a time set by the half-life",
        "Antibody effects outlast dosing by the antibody's elimination: nivolumab's terminal half-life is about "
        "25 days (Bajaj et al. 2017, CPT Pharmacometrics Syst Pharmacol 6:58) and PD-1 stays occupied for months "
        "after the last infusion (Brahmer 2010).",
        "At clearance x 0.5, 1 and 2 (half-lives about 41, 21, 10 days), the blockade a run applies stays >= 50 % "
        "after the last of four doses for t1/2 x log2(C_terminal / EC50) days, within 2 % (or one step).",
        ok, numbers, figure(out / "validation_blockade_persistence.png", fig),
        "The level is what each step's kernel thresholds see: p_pdl1_pass and p_exhaust follow it.")


#: Arms of the virtual CheckMate 067 in order of their published ORR (Larkin 2015).
TRIAL_ARMS = {"nivolumab+ipilimumab": (57.6, 11.5), "nivolumab": (43.7, 6.9), "ipilimumab": (19.0, 2.9)}


def trial_configs(replicates: int, extra: list[str], out: Path):
    """(arm per run, config per run) of configs/trial_melanoma.toml with
    ``replicates`` patients per arm and ``extra`` overrides."""
    import tomllib

    import tomli_w

    from ..config import apply_overrides
    from ..sweepdir.runs import load_plan

    spec = tomllib.loads((CONFIGS / "trial_melanoma.toml").read_text())
    spec["replicates"] = replicates
    spec["base"]["config"] = str(CONFIGS / spec["base"]["config"])
    path = out / "trial_spec.toml"
    path.write_text(tomli_w.dumps(spec))
    plan = load_plan(path)
    return [r.arm for r in plan.runs], [apply_overrides(plan.config(r), extra) for r in plan.runs]


def run_trial(replicates: int, extra: list[str], out: Path) -> dict[str, list[dict]]:
    """Every patient of every arm in one batch per lattice shape (cpu);
    RECIST endpoints per arm."""
    from ..batch import run_batch
    from ..endpoints import assess, run_diameters
    from ..therapy import therapy_start_day

    arms, cfgs = trial_configs(replicates, extra, out)
    folder = out / "trial_runs"
    folder.mkdir(exist_ok=True)
    paths = [folder / f"run{i:04d}.h5" for i in range(len(cfgs))]
    for p in paths:
        p.unlink(missing_ok=True)
    run_batch(cfgs, paths, backend="cpu")
    per_arm: dict[str, list[dict]] = {}
    for arm, cfg, p in zip(arms, cfgs, paths):
        per_arm.setdefault(arm, []).append(assess(*run_diameters(p), therapy_start_day(cfg)))
    return per_arm


def _months(days: float) -> str:
    return "not reached" if math.isinf(days) else f"{days / 30.44:.1f} months"


#: Virtual patients per arm: the full form, and --quick's.
TRIAL_PATIENTS, TRIAL_PATIENTS_QUICK = 64, 10


def virtual_trial_section(out: Path, quick: bool, processes: int) -> Section:
    import matplotlib.pyplot as plt

    from ..endpoints import arm_table

    patients = TRIAL_PATIENTS_QUICK if quick else TRIAL_PATIENTS
    # --quick: 12 weeks of follow-up (two visits), the trial's lattice and patients otherwise.
    extra = ["simulation.steps=1512"] if quick else []
    per_arm = run_trial(patients, extra, out)
    rows = {r["arm"]: r for r in arm_table(per_arm)}
    orr = {arm: rows[arm]["orr"] for arm in TRIAL_ARMS}
    order = sorted(orr, key=orr.get, reverse=True)
    if quick:
        ok = orr["nivolumab+ipilimumab"] > orr["ipilimumab"] and orr["nivolumab"] > orr["ipilimumab"]
        criterion = (f"(--quick: {patients} patients per arm, 12 weeks) ORR of each nivolumab arm above ipilimumab's. "
                     f"Full: {TRIAL_PATIENTS} patients per arm, 36 weeks, ORR combination > nivolumab > ipilimumab.")
    else:
        ok = order == list(TRIAL_ARMS)
        criterion = (f"{patients} virtual patients per arm followed 36 weeks from the first dose: ORR ranks combination > "
                     "nivolumab > ipilimumab.")
    numbers = [f"{arm}: ORR {100 * r['orr']:.1f} % (95 % CI {100 * r['orr_low']:.0f}-{100 * r['orr_high']:.0f}; "
               f"trial {TRIAL_ARMS[arm][0]} %), CR {r['CR']} PR {r['PR']} SD {r['SD']} PD {r['PD']} of {r['n']}; "
               f"median PFS {_months(r['pfs_median'])} (trial {TRIAL_ARMS[arm][1]} months)"
               for arm, r in ((a, rows[a]) for a in TRIAL_ARMS)]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = np.arange(len(TRIAL_ARMS))
    ax.bar(x - 0.2, [100 * orr[a] for a in TRIAL_ARMS], 0.4, label="gpusim",
           yerr=[[100 * (orr[a] - rows[a]["orr_low"]) for a in TRIAL_ARMS],
                 [100 * (rows[a]["orr_high"] - orr[a]) for a in TRIAL_ARMS]], capsize=3)
    ax.bar(x + 0.2, [v[0] for v in TRIAL_ARMS.values()], 0.4, label="CheckMate 067 (Larkin 2015)")
    ax.set_xticks(x, list(TRIAL_ARMS), fontsize=8)
    ax.set(ylabel="objective response rate (%)", ylim=(0, 100))
    ax.legend(fontsize=8)
    return Section(
        "A virtual CheckMate 067 ranks the arms as the trial did",
        "CheckMate 067 (Larkin et al. 2015, N Engl J Med 373:23), untreated melanoma: ORR 57.6 % with nivolumab + "
        "ipilimumab, 43.7 % with nivolumab, 19.0 % with ipilimumab; median PFS 11.5, 6.9 and 2.9 months.",
        criterion, ok, numbers, figure(out / "validation_virtual_trial.png", fig),
        "configs/trial_melanoma.toml: the trial's regimens dosed through population PK, a virtual population, "
        "RECIST 1.1 on the longest diameter every 6 weeks. The ranking, not the rates, is the claim: the "
        "mechanisms (anti-CTLA-4 only as T-cell priming) are a simplification; see the README.")
