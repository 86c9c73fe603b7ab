"""Cohort curves of a sweep: ``gpusim plot DIR --curves NAME``.

Top row, one panel per arm: every run's trajectory of observable NAME (thin
lines), the median over runs (thick) and the interquartile band, on the
runs' common time grid.  Bottom: Kaplan-Meier curves of progression-free
fraction per arm, time counted from the arm's therapy start (the summary's
``therapy_start_day``).  Progression (RECIST-like) is the first recorded
time at which the tumour is at least (1 + PD_CHANGE) times its nadir since
that start, and above it; runs that never progress are censored at their
last time (ticks).

>>> t = np.array([0.0, 1, 2, 3, 4]); n = np.array([100, 80, 90, 97, 120])
>>> time_to_progression(t, n, start=0.0)       # nadir 80; 96 is +20 %
(3.0, True)
>>> km = kaplan_meier(np.array([1.0, 2, 2, 3]), np.array([True, True, False, False]))
>>> km[0].tolist(), km[1].tolist()
([0.0, 1.0, 2.0], [1.0, 0.75, 0.5])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.paths import check_output, writing
from ..outcome import PD_CHANGE


def time_to_progression(times: np.ndarray, cells: np.ndarray, start: float) -> tuple[float, bool]:
    """(days from ``start`` to progression, True) or (days to the last record, False: censored)."""
    keep = times >= start - 1e-9
    t, n = times[keep], np.asarray(cells, float)[keep]
    if not len(t):
        return 0.0, False
    nadir = np.minimum.accumulate(n)
    hit = np.flatnonzero((n >= (1 + PD_CHANGE) * nadir) & (n > nadir))
    if len(hit):
        return float(t[hit[0]] - start), True
    return float(t[-1] - start), False


def kaplan_meier(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit estimate: (times, survival) as a right-continuous step
    function starting at (0, 1), one point per distinct event time."""
    durations, events = np.asarray(durations, float), np.asarray(events, bool)
    times, surv, s = [0.0], [1.0], 1.0
    for t in np.unique(durations[events]):
        at_risk = int((durations >= t).sum())
        died = int(((durations == t) & events).sum())
        s *= 1 - died / at_risk
        times.append(float(t))
        surv.append(s)
    return np.array(times), np.array(surv)


def _trajectories(out_dir: Path, df, name: str):
    import h5py

    from ..sweepdir import store

    series = {}
    for row in df[df["status"] == "complete"].itertuples():
        with h5py.File(store.run_path(out_dir, row.run_id), "r") as f:
            g = f.get(f"observables/{name}")
            if g is None:
                raise InputError(f"--curves {name}: no such observable in the run files "
                                 f"(they have {', '.join(f['observables'])})")
            tumour = f["observables/tumour_cells"]
            series[row.run_id] = (g["time"][()], g["value"][()], tumour["value"][()])
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
        for t, v, _ in runs:
            ax.plot(t, v, color=colour, lw=0.5, alpha=0.35)
        if runs:
            common = min((r[0] for r in runs), key=len)  # runs of one sweep share the grid; the shortest bounds it
            values = np.array([r[1][: len(common)] for r in runs], float)
            q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
            ax.fill_between(common, q25, q75, color=colour, alpha=0.25, lw=0, label="interquartile range")
            ax.plot(common, q50, color="k", lw=1.6, label="median")
        if log:
            ax.set_yscale("symlog", linthresh=1)
        ax.set_title(f"arm {arm}: {len(runs)} runs", fontsize=9)
        ax.set_xlabel("time (days)")
        ax.set_ylabel(name)
        ax.legend(fontsize=7, loc="upper left")
    ax = fig.add_subplot(grid[1, :])
    for i, arm in enumerate(arms):
        rows = df[(df["arm"] == arm) & df["run_id"].isin(list(series))]
        ttp = [time_to_progression(series[r.run_id][0], series[r.run_id][2], r.therapy_start_day)
               for r in rows.itertuples()]
        if not ttp:
            continue
        d, e = np.array([x[0] for x in ttp]), np.array([x[1] for x in ttp])
        kt, ks = kaplan_meier(d, e)
        kt, ks = np.append(kt, d.max()), np.append(ks, ks[-1])
        ax.step(kt, ks, where="post", color=f"C{i}", lw=1.8, label=f"{arm} ({int(e.sum())}/{len(e)} progressed)")
        censored = d[~e]
        if len(censored):
            ax.plot(censored, ks[np.searchsorted(kt, censored, side="right") - 1], "|", color=f"C{i}", ms=9)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("days from therapy start")
    ax.set_ylabel("progression-free fraction")
    ax.set_title(f"Kaplan-Meier: time to progression (tumour cells >= {1 + PD_CHANGE:.1f} x nadir since therapy "
                 f"start; ticks: censored)", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"{out_dir.name}: {name} per arm", fontsize=11)
    return fig


def plot_curves(path: str | Path, out: str | Path, name: str = "tumour_cells") -> Path:
    """Write :func:`figure` to the PNG ``out``."""
    out = check_output(out)
    with writing(out):
        figure(path, name).savefig(out, dpi=90)
    return out
