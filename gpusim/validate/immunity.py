"""The immune model against published results: the three Es of
immunoediting, the immunoediting signature (loss of immunogenicity under
T-cell pressure, with the compensatory growth it brings), and response to
checkpoint blockade rising with tumour mutational burden."""

from __future__ import annotations

import numpy as np

from .report import Section, figure
from .runs import CONFIGS, Job, run_jobs

#: Founder recognition r x T-cell recruitment (per empty vessel per day) of the outcome map.
MAP_RECOGNITION = (0.0, 0.06, 0.2, 0.5)
MAP_RECRUITMENT = (0.25, 1.0, 4.0)


def tmb_cohort():
    """(base config, TMB levels in mutations per division, base overrides)
    of the shipped cohort configs/sweep_tmb_infiltration.toml: validate measures
    the sweep users run."""
    import tomllib

    spec = tomllib.loads((CONFIGS / "sweep_tmb_infiltration.toml").read_text())
    levels = next(g["values"] for g in spec["grid"] if g["key"] == "tumour.mutations_per_division")
    base = [f"tumour.{k}={v}" for k, v in spec["base"].get("set", {}).get("tumour", {}).items()]
    return CONFIGS / spec["base"]["config"], tuple(levels), base

SCENARIOS = ("elimination", "equilibrium", "escape")


def three_es_section(out, quick: bool, processes: int) -> Section:
    import matplotlib.pyplot as plt

    seeds = range(1, 4 if quick else 11)
    scenario_jobs = [Job(CONFIGS / f"immunoediting_{o}.toml", [f"simulation.seed={s}"]) for o in SCENARIOS
                     for s in seeds]
    map_seeds = range(1, 2 if quick else 4)
    rec, rate = (MAP_RECOGNITION[::3], MAP_RECRUITMENT[::2]) if quick else (MAP_RECOGNITION, MAP_RECRUITMENT)
    base = CONFIGS / "immunoediting_escape.toml"
    map_jobs = [Job(base, [f"simulation.seed={s}", f"tumour.initial_recognition={r}",
                           f"immune.recruitment_rate_per_day={q}"])
                for r in rec for q in rate for s in map_seeds]
    results = run_jobs(scenario_jobs + map_jobs, processes)
    scen, cells = results[:len(scenario_jobs)], results[len(scenario_jobs):]
    need = len(seeds) - (0 if quick else 1)  # 9 of 10 seeds (all 3 in --quick)
    counts = {o: sum(r["outcome"] == o for r in scen[i * len(seeds):(i + 1) * len(seeds)])
              for i, o in enumerate(SCENARIOS)}
    ok = all(c >= need for c in counts.values())
    codes = {"elimination": 0, "equilibrium": 1, "progressing": 2, "escape": 3}
    grid = np.array([[np.mean([codes[cells[(i * len(rate) + j) * len(map_seeds) + k]["outcome"]]
                               for k in range(len(map_seeds))]) for j in range(len(rate))] for i in range(len(rec))])
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    im = ax.imshow(grid, origin="lower", cmap="RdYlGn_r", vmin=0, vmax=3, aspect="auto")
    ax.set(xticks=range(len(rate)), xticklabels=rate, yticks=range(len(rec)), yticklabels=rec, xlabel="T-cell recruitment (per vessel per day)",
           ylabel="founder recognition r")
    bar = fig.colorbar(im, ticks=[0, 1, 2, 3])
    bar.ax.set_yticklabels(list(codes))
    ax.set_title("mean outcome (immunoediting_escape base)", fontsize=9)
    numbers = [f"immunoediting_{o}.toml: {counts[o]} of {len(seeds)} seeds give `{o}`" for o in SCENARIOS]
    numbers.append("outcome map (rows: r = " + ", ".join(map(str, rec)) + "; columns: recruitment "
                   + ", ".join(map(str, rate)) + "; 0 elimination .. 3 escape, mean of "
                   f"{len(map_seeds)} seed(s)): " + "; ".join(" ".join(f"{v:.1f}" for v in row) for row in grid))
    return Section(
        "The three Es of immunoediting",
        "Immunoediting has three outcomes: elimination, equilibrium (a tumour held in check) and escape "
        "(Dunn et al. 2002, Nat Immunol 3:991; Schreiber, Old & Smyth 2011, Science 331:1565); which one "
        "depends on the tumour's immunogenicity and on T-cell infiltration (Kather et al. 2017, Cancer Res "
        "77:6442; Lakatos et al. 2020, Nat Genet 52:1057).",
        f"Each immunoediting scenario gives its named outcome in >= {need} of {len(seeds)} seeds; the map "
        "runs from escape (low r, low recruitment) to elimination (high r, high recruitment).",
        ok and grid[0, 0] >= 2.5 and grid[-1, -1] <= 0.5, numbers, figure(out / "validation_three_es.png", fig))


def immunoediting_section(out, quick: bool, processes: int, docs_figure=None) -> Section:
    """Quickstart with and without T cells: mean recognition and neoantigen
    load at the end, and tumour size (the compensatory-growth effect)."""
    import matplotlib.pyplot as plt

    seeds = (1,) if quick else (1, 2, 3)
    shrink = ["lattice.shape=[120,120]", "simulation.steps=2880"] if quick else []
    jobs = [Job(CONFIGS / "quickstart.toml", [f"simulation.seed={s}", f"immune.enabled={str(on).lower()}", *shrink])
            for s in seeds for on in (True, False)]
    res = run_jobs(jobs, processes)
    pairs = [(res[2 * i], res[2 * i + 1]) for i in range(len(seeds))]
    ratio = [on["final"]["mean_recognition"] / off["final"]["mean_recognition"] for on, off in pairs]
    neo = [on["final"]["neoantigen_load"] / off["final"]["neoantigen_load"] for on, off in pairs]
    size = [on["final_cells"] / off["final_cells"] for on, off in pairs]
    divs = [on["divisions"] / off["divisions"] for on, off in pairs]
    ok = max(ratio) < 0.5
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    bars = axes[0].bar(["mean r", "neoantigen load"], [np.mean(ratio), np.mean(neo)])
    axes[0].bar_label(bars, fmt="%.3f", fontsize=8)  # ratios near 0 are bars too thin to read
    axes[0].axhline(1.0, color="0.5", ls=":", lw=0.8)  # 1: no editing
    axes[0].axhline(0.5, color="k", ls="--", lw=0.8)  # the pass line for mean r
    axes[0].set(ylim=(0, 1.1), ylabel="with T cells / without (mean of seeds)")
    axes[0].set_title("immunoediting, end of run (dashed: pass < 0.5)", fontsize=10)
    for k, (on, off) in enumerate(pairs):
        axes[1].plot(*off["curve"], color="0.5", label="without T cells" if k == 0 else None)
        axes[1].plot(*on["curve"], color="C3", label="with T cells" if k == 0 else None)
    axes[1].set(yscale="log", xlabel="day", ylabel="tumour cells", title="growth with and without immunity")
    axes[1].legend(fontsize=8)
    name = figure(out / "validation_immunoediting.png", fig)
    numbers = [f"seed {s}: mean recognition {on['final']['mean_recognition']:.4f} with T cells, "
               f"{off['final']['mean_recognition']:.4f} without (ratio {r:.3f}); neoantigen load ratio {n:.3f}; "
               f"tumour cells {on['final_cells']} with, {off['final_cells']} without (x{z:.2f}); divisions "
               f"x{d:.2f} with T cells" for s, (on, off), r, n, z, d in zip(seeds, pairs, ratio, neo, size, divs)]
    return Section(
        "Immunoediting signature",
        "T cells select against immunogenic clones: tumours grown under immune pressure are less immunogenic "
        "than those grown without (Shankaran et al. 2001, Nature 410:1107; Matsushita et al. 2012, Nature "
        "482:400), and neoantigens are depleted (Rooney et al. 2015, Cell 160:48; Lakatos et al. 2020).",
        "Mean recognition probability r over tumour cells at the end, with T cells, below half of its value "
        "without T cells, in every seed (quickstart" + (", 120 x 120, 20 days" if quick else "") + ").",
        ok, numbers, name,
        "Compensatory growth: with T cells the tumour often ends larger. Killed cells free interior sites "
        "that contact-inhibited neighbours refill, so immunity can speed up net growth of a tumour whose "
        "size is limited by space; gpusim does not model the cytostatic effects or tissue damage that would "
        "offset this, so do not read tumour size alone as immune control.")


#: Virtual patients per TMB level and arm: the full form, and --quick's.
TMB_PATIENTS, TMB_PATIENTS_QUICK = 20, 6


def tmb_section(out, quick: bool, processes: int) -> Section:
    """Virtual patients of configs/sweep_tmb_infiltration.toml's base (low
    founder recognition: acquired neoantigens decide) at five mutation rates,
    with anti-PD-1 from day 5 and untreated."""
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    patients = TMB_PATIENTS_QUICK if quick else TMB_PATIENTS
    base, all_levels, common = tmb_cohort()
    levels = all_levels[::4] if quick else all_levels
    jobs = [Job(base, [f"simulation.seed={1000 * i + p + 1}", f"tumour.mutations_per_division={mu}", *common, *arm],
                from_day=5.0)
            for i, mu in enumerate(levels) for arm in ([], ["therapy=[]"]) for p in range(patients)]
    res = run_jobs(jobs, processes)
    orr, tmb = {}, {}
    for i, mu in enumerate(levels):
        for a, arm in enumerate(("anti-PD-1", "untreated")):
            chunk = res[(2 * i + a) * patients:(2 * i + a + 1) * patients]
            orr[mu, arm] = np.mean([r["response"] in ("CR", "PR") for r in chunk])
            if arm == "anti-PD-1":
                tmb[mu] = np.mean([r["at_day"]["tmb"] for r in chunk])
    treated = [orr[mu, "anti-PD-1"] for mu in levels]
    untreated = [orr[mu, "untreated"] for mu in levels]
    rho = float(spearmanr(np.log([tmb[mu] for mu in levels]), treated)[0])
    if quick:
        ok = treated[-1] > treated[0] and max(untreated) <= 0.1
        criterion = (f"(--quick: the lowest and highest TMB x {patients} patients) ORR at the highest TMB above ORR at the lowest; "
                     f"untreated ORR <= 10 % at every level. Full: Spearman >= 0.8 over {TMB_PATIENTS} patients per level.")
    else:
        ok = rho >= 0.8 and max(untreated) <= 0.1
        criterion = (f"Spearman correlation >= 0.8 between log TMB and ORR under anti-PD-1 over {len(levels)} TMB levels x "
                     f"{patients} virtual patients; untreated ORR <= 10 % at every level.")
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    x = [tmb[mu] for mu in levels]
    ax.plot(x, treated, "o-", label="anti-PD-1 from day 5")
    ax.plot(x, untreated, "s--", label="untreated")
    ax.set(xscale="log", xlabel="TMB at day 5 (mean acquired mutations per cell)",
           ylabel="objective response rate", ylim=(-0.05, 1.05))
    ax.legend(fontsize=8)
    numbers = [f"mu = {mu}: TMB {tmb[mu]:.2f} at day 5; ORR {orr[mu, 'anti-PD-1']:.2f} under anti-PD-1, "
               f"{orr[mu, 'untreated']:.2f} untreated ({patients} patients each)" for mu in levels]
    numbers.append(f"Spearman(log TMB, ORR under anti-PD-1) = {rho:.3f}")
    return Section(
        "Tumour mutational burden predicts response to checkpoint blockade",
        "Across cancer types the objective response rate to anti-PD-1/PD-L1 rises log-linearly with tumour "
        "mutational burden (Yarchoan et al. 2017, N Engl J Med 377:2500: r = 0.74), because more mutations "
        "make more neoantigens for T cells to recognise (Rizvi et al. 2015, Science 348:124; McGranahan et "
        "al. 2016, Science 351:1463).",
        criterion, ok, numbers, figure(out / "validation_tmb_orr.png", fig),
        "The cohort is configs/sweep_tmb_infiltration.toml's base (configs/checkpoint_blockade.toml with "
        "founder recognition " + ", ".join(o.split(".", 1)[1] for o in common) + "): the founder is nearly "
        "invisible, so response depends on neoantigens acquired during growth. ORR counts CR and PR (change "
        "<= -30 % from day 5 to day 30, or to escape).")
