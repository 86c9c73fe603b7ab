"""Growth curves: tumour cells (and T cells when the run has them) over
time, with the therapy schedule drawn behind them."""

from __future__ import annotations

from ..components import CURVES
from .style import TCELL


def shade_therapies(ax, therapy: list) -> None:
    """Each entry draws its own schedule (windows as shaded spans, doses as
    dashed lines) in its kind's colour; one legend entry per kind."""
    seen: set[str] = set()
    for entry in therapy:
        entry.shade(ax, entry.colour, None if entry.label in seen else entry.label)
        seen.add(entry.label)


def draw_curves(ax, run) -> None:
    obs = run.observables
    days = obs.index.to_numpy()
    ax.plot(days, obs["tumour_cells"].to_numpy(), color="black", lw=1.6, label="tumour cells")
    if "tcells" in obs:
        ax.plot(days, obs["tcells"].to_numpy(), color=TCELL, lw=1.4, label="T cells")
    # The other components' counts, where the run has them (their colours and styles).
    for name, (label, colour, ls) in CURVES.items():
        if name in obs:
            ax.plot(days, obs[name].to_numpy(), color=colour, lw=1.2, ls=ls, label=label)
    shade_therapies(ax, run.config.therapy)
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("cells")
    ax.set_title("Growth")
    if len(days):
        ax.set_xlim(days[0], max(days[-1], days[0] + 1e-9))
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
