"""Trial endpoints of a sweep per arm (``gpusim plot DIR --recist``):
waterfall of the best change in diameter from baseline, spider plot of the
change over time, Kaplan-Meier progression-free survival with its 95 %
band (gpusim.endpoints: scipy.stats.ecdf)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..endpoints import BEST_ORDER, arm_table, sweep_endpoints
from ..errors import InputError
from ..outcome import PD_CHANGE, PR_CHANGE
from .cohort import draw_km, write_png

#: Best overall response -> bar colour.
RESPONSE_COLOURS = {"CR": "tab:blue", "PR": "tab:green", "SD": "tab:olive", "PD": "tab:red", "NE": "0.6"}


def figure(path: str | Path, kind: str = "longest"):
    """The endpoints Figure of the sweep directory ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    out_dir = Path(path)
    per_arm = sweep_endpoints(out_dir, kind)
    if not per_arm:
        raise InputError(f"{out_dir}: no complete run with therapy and frames: no RECIST visits to plot")
    arms = list(per_arm)
    table = {r["arm"]: r for r in arm_table(per_arm)}
    fig = Figure(figsize=(4.4 * max(len(arms), 2), 10), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, max(len(arms), 2))
    waterfall = spider = None  # one y range per row: arms compared at a glance
    for i, arm in enumerate(arms):
        runs = per_arm[arm]
        row = table[arm]
        ax = fig.add_subplot(grid[0, i], sharey=waterfall)
        waterfall = waterfall or ax
        best = sorted(runs, key=lambda r: -np.nan_to_num(r["best_change"], nan=-np.inf))
        ax.bar(np.arange(len(best)), [100 * np.nan_to_num(r["best_change"]) for r in best], width=1.0,
               color=[RESPONSE_COLOURS[r["best_overall_response"]] for r in best], lw=0)
        for level, style in ((PR_CHANGE, "--"), (PD_CHANGE, ":")):
            ax.axhline(100 * level, color="k", ls=style, lw=0.8)
        orr = "-" if np.isnan(row["orr"]) else f"{100 * row['orr']:.0f}% ({100 * row['orr_low']:.0f}-" \
                                               f"{100 * row['orr_high']:.0f})"
        ax.set_title(f"{arm}: n = {row['n']}, ORR {orr}", fontsize=9)
        ax.set_xlabel("patients, best change sorted")
        ax.set_ylabel("best change in diameter from baseline (%)")
        ax.set_xticks([])
        ax = fig.add_subplot(grid[1, i], sharey=spider)
        spider = spider or ax
        for r in runs:
            if r["visit_days"]:
                ax.plot([0, *r["visit_days"]], [0, *(100 * np.array(r["changes"]))], lw=0.7, alpha=0.6,
                        color=RESPONSE_COLOURS[r["best_overall_response"]])
        ax.axhline(100 * PR_CHANGE, color="k", ls="--", lw=0.8)
        ax.set_xlabel("days from baseline (therapy start)")
        ax.set_ylabel("change in diameter from baseline (%)")
        ax.set_title(f"{arm}: spider plot", fontsize=9)
    waterfall.set_ylim(-105, max(60, waterfall.get_ylim()[1]))
    ax = fig.add_subplot(grid[2, :])
    for i, arm in enumerate(arms):
        runs = [r for r in per_arm[arm] if r["best_overall_response"] != "NE"]
        if not runs:
            continue
        med = table[arm]["pfs_median"]
        draw_km(ax, [r["pfs_days"] for r in runs], [r["progressed"] for r in runs], f"C{i}",
                f"{arm}: median {'not reached' if np.isinf(med) else f'{med:.0f} d'}")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="best", fontsize=8, frameon=False)  # arm and median, where no curve or band is
    ax.set_xlabel("days from therapy start")
    ax.set_ylabel("progression-free fraction")
    ax.set_title("Kaplan-Meier progression-free survival (PD: +20 % diameter from nadir; band: 95 % CI; "
                 "ticks: censored)", fontsize=9)
    fig.legend(handles=[Patch(color=RESPONSE_COLOURS[k], label=f"best response {k}") for k in BEST_ORDER[:4]]
               + [Patch(color="w", label="dashed: PR -30 %, dotted: PD +20 %")], fontsize=8, loc="outside lower center",
               ncols=5)
    what = "longest diameter" if kind == "longest" else "equivalent-sphere diameter"
    fig.suptitle(f"{out_dir.name}: RECIST 1.1 on the {what} per arm", fontsize=11)
    return fig


def plot_recist(path: str | Path, out: str | Path, kind: str = "longest") -> Path:
    """Write :func:`figure` to the PNG ``out``."""
    return write_png(figure, out, path, kind)
