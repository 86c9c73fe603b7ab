"""Sweep pictures: one PNG with the outcome phase diagram over the first two
swept parameters (one panel per arm), the response rates per arm and a
waterfall of tumour change per run, and (where the runs have frames) the
map of the end-state immune phenotype per arm.

Colour in the phase diagram is the elimination fraction of each grid cell
(from the run files' ``outcome``); for run files without an outcome (made
before gpusim wrote one) it is the median tumour change, and the colour bar
says so.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..analysis.spatial import NOT_EVALUABLE, PHENOTYPES
from ..config import config_from_toml_text
from ..errors import InputError
from ..io.paths import check_output, writing
from ..outcome import OUTCOMES, PD_CHANGE, PR_CHANGE, RESPONSES
from .style import PHENOTYPE_COLOURS
from ..sweepdir.store import load_runs
from ..analysis.sweep_summary import collect

RESPONSE_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#bdbdbd", "PD": "#d73027", "NE": "#f0f0f0"}
MAX_CELLS = 8  # distinct values per phase-diagram axis before values are binned


def axis_bins(values, scale: str) -> tuple[list[str], np.ndarray]:
    """Ordered cell labels and each run's cell: the distinct values of a grid
    axis, or 6 bins (log-spaced for log axes) of a randomly sampled one.

    >>> axis_bins(np.array([0.1, 1.0, 0.1]), "log")
    (['0.1', '1'], array([0, 1, 0]))
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.number):
        labels = sorted({str(v) for v in values})
        return labels, np.array([labels.index(str(v)) for v in values])
    distinct = np.unique(values)
    if len(distinct) <= MAX_CELLS:
        return [f"{v:.3g}" for v in distinct], np.searchsorted(distinct, values)
    lo, hi = float(distinct[0]), float(distinct[-1])
    edges = np.geomspace(lo, hi, 7) if scale == "log" and lo > 0 else np.linspace(lo, hi, 7)
    codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, 5)
    return [f"{a:.3g}-{b:.3g}" for a, b in zip(edges[:-1], edges[1:])], codes


def _phase_panel(ax, df, params: list[dict], use_outcome: bool, title: str, change_norm=None):
    done = df[df["status"] == "complete"]
    axes = params[:2]
    xs, xc = axis_bins(done[axes[0]["key"]], axes[0]["scale"]) if axes else (["all"], np.zeros(len(done), int))
    ys, yc = (axis_bins(done[axes[1]["key"]], axes[1]["scale"]) if len(axes) > 1
              else (["all"], np.zeros(len(done), int)))
    grid = np.full((len(ys), len(xs)), np.nan)
    runs = np.zeros(grid.shape, int)
    dominant = np.full(grid.shape, "", dtype=object)
    for j in range(len(ys)):
        for i in range(len(xs)):
            cell = done[(xc == i) & (yc == j)]
            runs[j, i] = len(cell)
            if len(cell) == 0:
                continue
            if use_outcome:
                grid[j, i] = (cell["outcome"] == "elimination").mean()
                dominant[j, i] = cell["outcome"].value_counts().index[0]
            else:
                grid[j, i] = 100 * cell["tumour_change"].median()
    if use_outcome:
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    else:
        image = ax.imshow(grid, origin="lower", cmap="coolwarm", norm=change_norm, aspect="auto")
    for j in range(len(ys)):
        for i in range(len(xs)):
            if not math.isnan(grid[j, i]):
                text = f"{grid[j, i]:.2f}\n{dominant[j, i]}" if use_outcome else f"{grid[j, i]:+.0f}%"
                dark = use_outcome and grid[j, i] < 0.6  # viridis is dark below ~0.6
                ax.text(i, j, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
            elif runs[j, i]:  # runs, but no change to show: the tumour was gone before therapy started
                ax.text(i, j, "n/a", ha="center", va="center", fontsize=7, color="grey")
    ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(ys)), ys, fontsize=7)
    ax.set_xlabel(axes[0]["key"] if axes else "", fontsize=8)
    ax.set_ylabel(axes[1]["key"] if len(axes) > 1 else "", fontsize=8)
    ax.set_title(title, fontsize=9)
    return image


def _phenotype_panel(ax, df, params: list[dict], title: str):
    """The most frequent end-state phenotype per grid cell (colour) and each
    phenotype's share (text), over the first two swept parameters."""
    done = df[(df["status"] == "complete") & df["phenotype"].isin([*PHENOTYPES, NOT_EVALUABLE])]
    axes = params[:2]
    xs, xc = axis_bins(done[axes[0]["key"]], axes[0]["scale"]) if axes else (["all"], np.zeros(len(done), int))
    ys, yc = (axis_bins(done[axes[1]["key"]], axes[1]["scale"]) if len(axes) > 1
              else (["all"], np.zeros(len(done), int)))
    labels = [*PHENOTYPES, NOT_EVALUABLE]
    rgb = np.ones((len(ys), len(xs), 3))
    from matplotlib.colors import to_rgb

    for j in range(len(ys)):
        for i in range(len(xs)):
            cell = done[(xc == i) & (yc == j)]["phenotype"]
            if not len(cell):
                continue
            shares = {p: (cell == p).mean() for p in labels}
            top = max(labels, key=lambda p: (shares[p], -labels.index(p)))
            rgb[j, i] = to_rgb(PHENOTYPE_COLOURS[top])
            text = "\n".join(f"{p} {shares[p]:.2f}" for p in labels if shares[p] > 0)
            ax.text(i, j, text, ha="center", va="center", fontsize=6,
                    color="white" if top in ("inflamed", "desert") else "black")
    ax.imshow(rgb, origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(ys)), ys, fontsize=7)
    ax.set_xlabel(axes[0]["key"] if axes else "", fontsize=8)
    ax.set_ylabel(axes[1]["key"] if len(axes) > 1 else "", fontsize=8)
    ax.set_title(title, fontsize=9)


def _response_panel(ax, df, arms: list[str]):
    done = df["status"] == "complete"
    bottom = np.zeros(len(arms))
    known = np.array([df.loc[done & (df["arm"] == arm), "response"].isin(RESPONSES).sum() for arm in arms])
    for r in RESPONSES:
        frac = np.array([(df.loc[done & (df["arm"] == arm), "response"] == r).sum() for arm in arms])
        frac = np.divide(frac, known, out=np.zeros(len(arms)), where=known > 0)
        ax.bar(arms, frac, bottom=bottom, color=RESPONSE_COLOURS[r], edgecolor="0.6", linewidth=0.3, label=r)
        bottom += frac
    for i in np.flatnonzero(known == 0):  # responses exist only where an arm has therapy
        ax.text(i, 0.5, "no therapy:\nno response", ha="center", va="center", fontsize=8, color="0.4")
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of runs")
    ax.set_title("response per arm (RECIST 1.1, run files)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()  # beside the bars, top to bottom as they are stacked
    ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(axis="x", labelsize=8, rotation=20)


def growth_cap(df) -> float:
    """Upper end of the tumour-change scales (%): +100 as in clinical
    waterfall plots, or more when most runs grow further (immunity off)."""
    change = 100 * df.loc[df["status"] == "complete", "tumour_change"].dropna()
    return float(max(100.0, np.ceil(change.quantile(0.9) / 50) * 50)) if len(change) else 100.0


def _waterfall_panel(ax, df, arms: list[str], cap: float, dim: int):
    done = df[(df["status"] == "complete") & df["tumour_change"].notna()]
    order = done.sort_values("tumour_change", ascending=False)
    change = np.clip(100 * order["tumour_change"].to_numpy(), -100, cap)
    colours = {arm: f"C{i}" for i, arm in enumerate(arms)}
    ax.bar(np.arange(len(order)), change, width=1.0, color=[colours[a] for a in order["arm"]])
    # RECIST's thresholds are on the diameter; in cells they are (1 + change)^dim - 1.
    pd_cells, pr_cells = ((1 + PD_CHANGE) ** dim - 1, (1 + PR_CHANGE) ** dim - 1)
    for threshold in (pd_cells, pr_cells):
        ax.axhline(100 * threshold, ls="--", lw=0.8, color="k")
    ax.set_xlim(-0.5, max(len(order), 1) - 0.5)
    ax.set_ylim(-105, cap * 1.05)
    ax.set_xticks([])
    ax.set_xlabel(f"{len(order)} runs, sorted")
    ax.set_ylabel("change in tumour cells from therapy start (%)")
    ax.set_title(f"waterfall, clipped at +{cap:.0f} %\n(dashed: PD {100 * pd_cells:+.0f} %, PR {100 * pr_cells:+.0f} % "
                 f"in cells: RECIST, {dim}D)", fontsize=9)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=c, label=a) for a, c in colours.items()], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), title="arm", title_fontsize=7)  # beside the bars, never over them


def plot_dir(path: str | Path, out: str | Path) -> Path:
    """Draw the sweep in ``path`` into the PNG ``out``; returns ``out``."""
    out = check_output(out)
    fig = figure(path)
    with writing(out):
        fig.savefig(out, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def figure(path: str | Path):
    """The sweep's matplotlib Figure (Agg): phase diagrams on top, response
    rates and waterfall below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(path)
    header, _ = load_runs(out_dir)
    df = collect(out_dir)
    if not (df["status"] == "complete").any():
        raise InputError(f"{out_dir}: no complete runs to plot yet")
    arms = list(dict.fromkeys(df["arm"]))
    params = header["params"]
    use_outcome = df["outcome"].isin(OUTCOMES).any()

    from matplotlib.colors import TwoSlopeNorm

    cap = growth_cap(df)
    ncols = max(len(arms), 2)
    phenotypes = df["phenotype"].isin([*PHENOTYPES, NOT_EVALUABLE]).any()
    fig = plt.figure(figsize=(4.6 * ncols, 13.5 if phenotypes else 9), layout="constrained")
    grid = fig.add_gridspec(3 if phenotypes else 2, ncols)
    top, image = [], None
    for i, arm in enumerate(arms):
        top.append(ax := fig.add_subplot(grid[0, i]))
        image = _phase_panel(ax, df[df["arm"] == arm], params, use_outcome, f"arm {arm}",
                             TwoSlopeNorm(vcenter=0, vmin=-100, vmax=cap))
    label = ("elimination fraction per cell (text: the most frequent outcome)" if use_outcome
             else "median tumour change from therapy start (%) -- the run files have no outcome")
    fig.colorbar(image, ax=top, location="top", shrink=0.6, label=label)
    split = max(1, ncols // 3)
    _response_panel(fig.add_subplot(grid[1, :split]), df, arms)
    dim = len(config_from_toml_text((out_dir / "base.toml").read_text(), str(out_dir / "base.toml")).lattice.shape)
    _waterfall_panel(fig.add_subplot(grid[1, split:]), df, arms, cap, dim)
    if phenotypes:
        for i, arm in enumerate(arms):
            _phenotype_panel(fig.add_subplot(grid[2, i]), df[df["arm"] == arm], params,
                             f"arm {arm}: immune phenotype, last frame")
        from matplotlib.patches import Patch

        names = {NOT_EVALUABLE: "no_core (no tumour, or too small for a core)"}
        fig.legend(handles=[Patch(color=c, label=names.get(p, p)) for p, c in PHENOTYPE_COLOURS.items()],
                   loc="outside lower center", ncols=4, fontsize=8,
                   title="immune phenotype (colour: the most frequent per cell; text: share of runs)", title_fontsize=8)
    fig.suptitle(f"{out_dir.name}: {len(df)} runs, {int((df['status'] == 'complete').sum())} complete",
                 fontsize=11)
    return fig
