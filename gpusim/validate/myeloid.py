"""Myeloid suppressors keep CD8 T cells out of the tumour core: removing
them, or depleting them by CSF1R inhibition, lets CD8 T cells into the core
and the tumour responds (configs/myeloid_excluded.toml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .report import Section, figure
from .runs import CONFIGS, run_jobs

#: The arms: label -> the --set overrides of configs/myeloid_excluded.toml.
ARMS = {
    "myeloid cells": [],
    "no myeloid cells": ["myeloid.enabled=false"],
    "CSF1R inhibition": ['therapy=[{kind="csf1r_blockade", start_day=2.0, end_day=30.0, level=1.0}]'],
}
#: CD8 infiltration of the core is read from this day on (CSF1R inhibition starts at day 2).
FROM_DAY = 2


def arm_run(args: tuple[str, int, int]) -> dict:
    """One run of an arm: daily CD8 density in the core and the margin
    (per mm^2, while the tumour has a core) and the tumour size."""
    from ..analysis.spatial import frame_statistics
    from ..config import load_config
    from ..simulation import Simulation

    arm, seed, days = args
    cfg = load_config(CONFIGS / "myeloid_excluded.toml",
                      ["output.frame_every_steps=0", f"simulation.seed={seed}", *ARMS[arm]])
    sim = Simulation(cfg, backend="cpu")
    per_day = round(1.0 / cfg.simulation.dt_days)
    shape = tuple(reversed(cfg.lattice.shape))
    core, margin, cells = [], [], [sim.last_observables["tumour_cells"]]
    for step in range(1, days * per_day + 1):
        obs = sim.step()
        if step % per_day:
            continue
        cells.append(obs["tumour_cells"])
        st = sim.state()
        s = frame_statistics(st.sites["clone"].reshape(shape), st.sites["tcell"].reshape(shape), cfg.lattice.dx_um,
                             cfg.analysis)
        core.append(s["tcell_density_core_per_mm2"])
        margin.append(s["tcell_density_margin_per_mm2"])
        if obs["tumour_cells"] == 0:
            cells += [0] * (days - len(cells) + 1)
            break
    core_days = np.array(core[FROM_DAY - 1:], dtype=np.float64)
    return {"arm": arm, "seed": seed, "cells": cells, "core": core, "margin": margin,
            # a day with no core left (a cleared tumour) does not count
            "core_mean": float(np.nanmean(core_days)) if np.isfinite(core_days).any() else 0.0,
            "change": cells[-1] / cells[FROM_DAY] - 1.0 if cells[FROM_DAY] else -1.0}


def myeloid_section(out: Path, quick: bool, processes: int) -> Section:
    import matplotlib.pyplot as plt

    from ..components import MYELOID

    seeds, days = ((1,), 6) if quick else ((1, 2, 3, 4, 5), 10)
    jobs = [(arm, seed, days) for seed in seeds for arm in ARMS]
    runs = run_jobs(jobs, processes, fn=arm_run)
    by = {(r["arm"], r["seed"]): r for r in runs}
    base, removed, csf1r = ARMS
    wins = {arm: sum(by[arm, s]["core_mean"] > by[base, s]["core_mean"]
                     and by[arm, s]["cells"][-1] < by[base, s]["cells"][-1] for s in seeds) for arm in (removed, csf1r)}
    need = len(seeds) if quick else len(seeds) - 1
    ok = all(w >= need for w in wins.values())
    numbers = []
    for arm in ARMS:
        rs = [by[arm, s] for s in seeds]
        numbers.append(f"{arm}: CD8 T cells in the core {np.mean([r['core_mean'] for r in rs]):.0f} per mm^2 "
                       f"(mean over days {FROM_DAY}-{days} and seeds), tumour change from day {FROM_DAY} to {days} "
                       f"{100 * np.mean([r['change'] for r in rs]):+.0f} %, cleared in "
                       f"{sum(r['cells'][-1] == 0 for r in rs)} of {len(rs)}"
                       + ("" if arm == base else f"; more core CD8 and a smaller tumour than with myeloid cells in "
                                                 f"{wins[arm]} of {len(rs)} seeds"))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    colours = {base: MYELOID.colour, removed: "k", csf1r: "tab:olive"}  # the component's colour
    # Left: the core's CD8 density from day 1; right: tumour cells from day 0.
    for ax, key, first, ylabel in ((axes[0], "core", 1, "CD8 T cells in the core (per mm$^2$)"),
                                   (axes[1], "cells", 0, "tumour cells")):
        for r in runs:
            ax.plot(np.arange(first, first + len(r[key])), r[key], color=colours[r["arm"]], lw=1,
                    label=r["arm"] if r["seed"] == seeds[0] else None)
        ax.axvline(FROM_DAY, color="tab:olive", ls=":", lw=0.8, label="CSF1R inhibition starts")
        ax.set(xlabel="day", ylabel=ylabel)
    axes[0].legend(fontsize=7)
    return Section(
        "Removing myeloid suppressors lets CD8 T cells into the core",
        "Tumour-associated macrophages hold CD8 T cells in the stroma around tumour islets; depleting them with a "
        "CSF1R inhibitor raises CD8 T cells in the islets and the response to anti-PD-1 (Peranzoni et al. 2018, "
        "PNAS 115:E4041; Zhu et al. 2014, Cancer Res 74:5057). MDSC suppress T-cell function by contact "
        "(Gabrilovich & Nagaraj 2009, Nat Rev Immunol 9:162); tumour CCL2 recruits them (Qian et al. 2011, "
        "Nature 475:222).",
        f"configs/myeloid_excluded.toml, {len(seeds)} seed(s), {days} days: without myeloid cells, and under "
        f"CSF1R inhibition from day {FROM_DAY}, the mean CD8 density in the tumour core from day {FROM_DAY} is "
        f"higher and the tumour smaller at day {days} than with myeloid cells, in "
        + ("every seed (--quick: one seed, 6 days)." if quick else f"at least {need} of {len(seeds)} seeds."),
        ok, numbers, figure(out / "validation_myeloid.png", fig),
        "Densities are per mm^2 of the tumour core (farther than 30 um inside the boundary; gpusim analyse's "
        "regions). The exclusion is the scenario's: myeloid cells gather where CCL2 peaks, block CD8 entry at "
        "the vessels there and hold the CD8 T cells they touch.")
