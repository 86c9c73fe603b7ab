"""Cohort curves of a sweep: ``gpusim plot DIR --curves NAME``.

Top row, one panel per arm: every run's trajectory of observable NAME (thin
lines), the median over runs (thick) and the interquartile band, on the
runs' common time grid, with the arm's therapy schedule behind them.
Bottom: Kaplan-Meier curves of progression-free fraction per arm with
their 95 % bands and medians, time counted from the arm's therapy start
(the summary's ``therapy_start_day``).  Progression (RECIST 1.1) is the first recorded
time at which the tumour's equivalent-sphere diameter is at least
(1 + PD_CHANGE) times its nadir since that start (cells (1 + PD_CHANGE)^dim
times theirs), and above it; runs that never progress are censored at their
last time (ticks).  (``gpusim plot DIR --recist`` has the trial form: the
longest diameter at assessment visits.)

>>> t = np.array([0.0, 1, 2, 3, 4]); n = np.array([100, 80, 90, 97, 120])
>>> time_to_progression(t, n, start=0.0, dim=1)       # nadir 80; 96 is +20 %
(3.0, True)
>>> time_to_progression(t, n, start=0.0, dim=2)       # 2D: 80 x 1.44 = 115.2
(4.0, True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..endpoints import kaplan_meier, km_median
from ..errors import InputError
from ..io.paths import check_output, writing
from ..outcome import PD_CHANGE
from .curves import shade_therapies


def time_to_progression(times: np.ndarray, cells: np.ndarray, start: float, dim: int) -> tuple[float, bool]:
    """(days from ``start`` to progression, True) or (days to the last record, False: censored)."""
    keep = times >= start - 1e-9
    t, n = times[keep], np.asarray(cells, float)[keep]
    if not len(t):
        return 0.0, False
    nadir = np.minimum.accumulate(n)
    hit = np.flatnonzero((n >= (1 + PD_CHANGE) ** dim * nadir) & (n > nadir))
    if len(hit):
        return float(t[hit[0]] - start), True
    return float(t[-1] - start), False


def draw_km(ax, durations, events, colour: str, label: str) -> None:
    """A Kaplan-Meier curve of right-censored ``durations`` (``events``
    False = censored) with its 95 % band, run on to the last follow-up, and
    a tick where a run left follow-up without the event."""
    d, e = np.asarray(durations, float), np.asarray(events, bool)
    km = kaplan_meier(d, e)
    t = np.append(km.times, max(d.max(), km.times[-1]))
    ax.step(t, np.append(km.survival, km.survival[-1]), where="post", color=colour, lw=1.6, label=label)
    ax.fill_between(t, np.append(km.low, km.low[-1]), np.append(km.high, km.high[-1]), step="post",
                    color=colour, alpha=0.15, lw=0)
    censored = d[~e]
    if len(censored):
        ax.plot(censored, km.survival[np.searchsorted(km.times, censored, side="right") - 1], "|", color=colour, ms=8)


def _trajectories(out_dir: Path, df, name: str):
    import h5py

    from ..io.reader import read_config
    from ..sweepdir import store

    series = {}
    for row in df[df["status"] == "complete"].itertuples():
        with h5py.File(store.run_path(out_dir, row.run_id), "r") as f:
            g = f.get(f"observables/{name}")
            if g is None:
                raise InputError(f"--curves {name}: no such observable in the run files "
                                 f"(they have {', '.join(f['observables'])})")
            tumour = f["observables/tumour_cells"]
            cfg = read_config(f)
            series[row.run_id] = (g["time"][()], g["value"][()], tumour["value"][()], cfg.lattice.dim, cfg.therapy)
    return series


def figure(path: str | Path, name: str = "tumour_cells"):
    """The cohort-curves Figure of the sweep directory ``path`` (no pyplot:
    an interactive matplotlib session is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..analysis.sweep_summary import collect

    out_dir = Path(path)
    df = collect(out_dir)
    if not (df["status"] == "complete").any():
        raise InputError(f"{out_dir}: no complete runs to plot yet")
    series = _trajectories(out_dir, df, name)
    arms = list(dict.fromkeys(df["arm"]))
    fig = Figure(figsize=(4.2 * max(len(arms), 2), 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, max(len(arms), 2))
    log = name.endswith("cells") or name.startswith("tcells")
    top = None
    for i, arm in enumerate(arms):
        ax = fig.add_subplot(grid[0, i], sharey=top)
        top = top or ax
        rows = df[(df["arm"] == arm) & df["run_id"].isin(list(series))]
        runs = [series[r] for r in rows["run_id"]]
        colour = f"C{i}"
        for t, v, *_ in runs:
            ax.plot(t, v, color=colour, lw=0.5, alpha=0.35)
        if runs:
            common = min((r[0] for r in runs), key=len)  # runs of one sweep share the grid; the shortest bounds it
            values = np.array([r[1][: len(common)] for r in runs], float)
            q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
            ax.fill_between(common, q25, q75, color=colour, alpha=0.25, lw=0, label="interquartile range")
            ax.plot(common, q50, color="k", lw=1.6, label="median")
        if runs:
            shade_therapies(ax, runs[0][4])  # the arm's schedule, behind the curves
        ax.set_title(f"arm {arm}: {len(runs)} runs", fontsize=9)
        ax.set_xlabel("time (days)")
        ax.set_ylabel(observable_label(name))
        ax.legend(fontsize=7, loc="upper left")
    if log and series:
        _count_axis(top, min(float(np.min(v)) for _, v, *_ in series.values()),
                    max(float(np.max(v)) for _, v, *_ in series.values()))
    ax = fig.add_subplot(grid[1, :])
    for i, arm in enumerate(arms):
        rows = df[(df["arm"] == arm) & df["run_id"].isin(list(series))]
        ttp = [time_to_progression(series[r.run_id][0], series[r.run_id][2], r.therapy_start_day, series[r.run_id][3])
               for r in rows.itertuples()]
        if not ttp:
            continue
        d, e = np.array([x[0] for x in ttp]), np.array([x[1] for x in ttp])
        med = km_median(d, e)[0]
        start = float(rows["therapy_start_day"].iloc[0])
        draw_km(ax, d, e, f"C{i}", f"{arm} (from day {start:g}): {int(e.sum())}/{len(e)} progressed, median "
                + ("not reached" if np.isinf(med) else f"{med:.2g} d"))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("days from therapy start (an arm without therapy: from the sweep's earliest start)")
    ax.set_ylabel("progression-free fraction")
    ax.set_title(f"Kaplan-Meier: time to progression (equivalent-sphere diameter >= {1 + PD_CHANGE:.1f} x nadir "
                 "since therapy start,\nat every recorded step; band: 95 % CI; ticks: censored)", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"{out_dir.name}: {name} per arm", fontsize=11)
    return fig


def observable_label(name: str) -> str:
    """An axis label for observable ``name``: its description and unit
    (``live tumour cells (cells)``), not the raw column name."""
    from ..observables import OBSERVABLES

    if name not in OBSERVABLES:
        return name
    _, unit, description = OBSERVABLES[name]
    return f"{description} ({unit})"


def _count_axis(ax, lo: float, hi: float) -> None:
    """The y axis of a count from ``lo`` to ``hi`` (every arm shares it):
    symlog with numbers at 1, 2 and 5 of each decade when the counts span
    more than a decade, else linear -- never an axis without numbers."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, SymmetricalLogLocator

    if hi > 20 * max(lo, 1):
        ax.set_yscale("symlog", linthresh=1)
        ax.yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=1, subs=(1.0, 2.0, 5.0)))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1 else f"{v:g}"))


def write_png(make_figure, out: str | Path, *args) -> Path:
    """``make_figure(*args)`` written to the PNG ``out`` (checked first; a
    failed write leaves no partial file)."""
    out = check_output(out)
    with writing(out):
        make_figure(*args).savefig(out, dpi=90)
    return out


def plot_curves(path: str | Path, out: str | Path, name: str = "tumour_cells") -> Path:
    """Write :func:`figure` to the PNG ``out``."""
    return write_png(figure, out, path, name)
