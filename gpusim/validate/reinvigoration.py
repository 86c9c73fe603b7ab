"""Re-invigoration under PD-1 blockade (``immune.reinvigoration_rate_per_day``):
exhausted CD8 T cells recover while the blockade lasts and exhaust again
once it ends, against a tumour that keeps its antigen and PD-L1."""

from __future__ import annotations

import numpy as np

from .report import Section, figure
from .runs import CONFIGS, run_jobs

#: configs/checkpoint_blockade.toml made a closed experiment, each setting with its reason.
SETUP = [
    "lattice.shape=[60,60]", "output.frame_every_steps=0",
    # A weakly recognised (r = 0.05), PD-L1-high tumour that neither mutates nor dies on its own: the antigen
    # and the PD-L1 persist, so what the T cells do is what changes.
    "tumour.initial_radius_cells=15", "tumour.initial_recognition=0.05", "tumour.mutations_per_division=0",
    "tumour.division_rate_per_day=0.5", "tumour.death_rate_per_day=0",
    # A closed T-cell population (none enters, none dies): the exhausted fraction changes only by PD-L1
    # contacts, re-invigoration and the daughters of expansion.
    "immune.vessel_density=0", "immune.initial_tcells=100", "immune.lifespan_days=1e9",
    "immune.exhausted_death_rate_per_day=0", "immune.kills_per_tcell=15",
]
#: Days: anti-PD-1 at full level over [START, END); the runs end at LAST.
START, END, LAST = 7, 14, 21
#: The rule's rate (per day, at full blockade) in the "with re-invigoration" arm: one exhaustion level
#: shed in ~3 days, within the 3 weeks in which Huang et al. 2017 saw the response peak.
RATE_PER_DAY = 0.3
#: Criterion: at the end of the blockade the exhausted fraction with the rule is at most this share of that without.
AT_END_SHARE = 0.25
#: ... and 3 days after it ended at least this fraction of the T cells are exhausted again.
RE_EXHAUSTED = 0.5


def arm_run(args: tuple[float, int]) -> dict:
    """(rate, seed) -> per day from 0 to LAST: the fraction of T cells at
    or above the exhaustion threshold (from the lattice), T cells, tumour
    cells."""
    from ..config import load_config
    from ..reference.tcell import exhaustion_level
    from ..simulation import Simulation

    rate, seed = args
    cfg = load_config(CONFIGS / "checkpoint_blockade.toml", [
        *SETUP, f"simulation.seed={seed}", f"immune.reinvigoration_rate_per_day={rate}",
        f'therapy=[{{kind="checkpoint_blockade", start_day={START}.0, end_day={END}.0, level=1.0}}]'])
    sim = Simulation(cfg, backend="cpu")
    per_day = round(1.0 / cfg.simulation.dt_days)
    series = {"exhausted": [], "tcells": [], "tumour_cells": []}

    def record():
        t = sim.state().sites["tcell"]
        t = t[t != 0]
        series["exhausted"].append(float((exhaustion_level(t) >= cfg.immune.exhaustion_threshold).mean())
                                   if len(t) else 0.0)
        series["tcells"].append(len(t))
        series["tumour_cells"].append(int(sim.last_observables["tumour_cells"]))

    record()
    for step in range(1, LAST * per_day + 1):
        sim.step()
        if step % per_day == 0:
            record()
    return series


def reinvigoration_section(out, quick: bool, processes: int) -> Section:
    import matplotlib.pyplot as plt

    seeds = (1,) if quick else (1, 2, 3, 4)
    arms = {"without the rule": 0.0, "with re-invigoration": RATE_PER_DAY}
    res = run_jobs([(rate, s) for rate in arms.values() for s in seeds], processes, fn=arm_run)
    runs = {name: res[k * len(seeds):(k + 1) * len(seeds)] for k, name in enumerate(arms)}
    off, on = runs["without the rule"], runs["with re-invigoration"]
    after = END + 3
    ok = all(b["exhausted"][END] <= AT_END_SHARE * a["exhausted"][END]
             and b["tumour_cells"][END] < a["tumour_cells"][END]
             and b["exhausted"][after] >= RE_EXHAUSTED and b["tumour_cells"][LAST] > b["tumour_cells"][END]
             for a, b in zip(off, on))
    numbers = [f"seed {s}: exhausted fraction of T cells at day {START} {b['exhausted'][START]:.2f}; at day {END} "
               f"(end of blockade) {b['exhausted'][END]:.2f} with the rule vs {a['exhausted'][END]:.2f} without; "
               f"day {after}: {b['exhausted'][after]:.2f}; T cells at day {END} {b['tcells'][END]} vs "
               f"{a['tcells'][END]}; tumour cells at day {END} {b['tumour_cells'][END]} vs {a['tumour_cells'][END]}, "
               f"day {LAST} {b['tumour_cells'][LAST]} vs {a['tumour_cells'][LAST]}"
               for s, a, b in zip(seeds, off, on)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"wspace": 0.3})
    days = np.arange(LAST + 1)
    for ax in axes:
        ax.axvspan(START, END, color="0.92", label="anti-PD-1")
    for name, color in zip(arms, ("0.4", "C3")):
        for i, r in enumerate(runs[name]):
            label = name if i == 0 else None
            axes[0].plot(days, r["exhausted"], color=color, lw=1.2, label=label)
            axes[1].plot(days, r["tumour_cells"], color=color, lw=1.2, label=label)
    axes[0].set(xlabel="day", ylabel="exhausted fraction of CD8 T cells", ylim=(-0.02, 1.05),
                title=f"exhaustion level >= threshold ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
    axes[1].set(xlabel="day", ylabel="tumour cells", ylim=(0, None), title="tumour")
    axes[0].legend(fontsize=8, loc="center right")
    axes[1].legend(fontsize=8, loc="upper left")
    return Section(
        "Anti-PD-1 re-invigorates exhausted CD8 T cells while it lasts",
        "Blocking PD-1 restores the function of exhausted CD8 T cells (Barber et al. 2006, Nature 439:682); in "
        "patients, PD-1+ CD8 T cells proliferate again within weeks of pembrolizumab (Huang et al. 2017, Nature "
        "545:60), but the re-invigoration is not durable: where antigen persists the cells exhaust again once "
        "the blockade is gone (Pauken et al. 2016, Science 354:1160).",
        f"configs/checkpoint_blockade.toml as a closed experiment (`{' '.join(SETUP)}`), anti-PD-1 at full level "
        f"from day {START} to {END}, with immune.reinvigoration_rate_per_day = {RATE_PER_DAY} and without (0), "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}; in every seed: at day {END} the exhausted fraction "
        f"with the rule is at most {AT_END_SHARE:g} of that without and the tumour is smaller; at day {after} at "
        f"least {RE_EXHAUSTED:g} of the T cells are exhausted again and the tumour grows from day {END} to {LAST}.",
        bool(ok), numbers, figure(out / "validation_reinvigoration.png", fig),
        "Exhausted here means an exhaustion level at or above immune.exhaustion_threshold, read from the "
        "lattice; the tcells_exhausted observable also counts T cells that spent their kills, which "
        "re-invigoration does not restore.  The rule is off by default: without it exhaustion is terminal, "
        "so blockade only stops new exhaustion and lifts PD-L1's suppression of killing.")
