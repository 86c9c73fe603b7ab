"""The picture of ``gpusim analyse RUN.h5 --plot OUT.png``: the tumour's
regions in one frame with its T cells, T-cell density per region over time
with the phenotype of each frame, and clone mixing and shape over time.

>>> import gpusim, tempfile, os
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [40, 40]}, "simulation": {"steps": 40},
...                                     "output": {"frame_every_steps": 20}})
>>> d = tempfile.mkdtemp()
>>> _ = gpusim.run_to_file(cfg, os.path.join(d, "run.h5"), backend="numpy")
>>> with gpusim.open_run(os.path.join(d, "run.h5")) as run:
...     save_spatial_figure(run, os.path.join(d, "spatial.png")).name
'spatial.png'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.spatial import NOT_EVALUABLE, PHENOTYPES, REGIONS, regions
from .snapshot import mid_slice, tumour_view
from .style import PHENOTYPE_COLOURS, REGION_COLOURS, TCELL, frame_step, legend_below, time_limits

TUMOUR = (0.35, 0.35, 0.35, 1.0)


def _regions_panel(ax, run, k: int):
    clone = run.frames("tumour_clone")[k]
    a = run.config.analysis
    dx = run.config.lattice.dx_um
    code = mid_slice(regions(clone > 0, dx, a.margin_width_um))
    image = np.array(REGION_COLOURS)[code]
    tumour = mid_slice(clone) > 0
    image[tumour] = np.array(REGION_COLOURS)[code[tumour]] * 0.55 + np.array(TUMOUR) * 0.45
    image[..., 3] = 1.0
    ny, nx = code.shape
    ax.imshow(image, origin="lower", interpolation="nearest",
              extent=(-dx / 2, (nx - 0.5) * dx, -dx / 2, (ny - 0.5) * dx))
    if "tcells" in run.fields:
        y, x = np.nonzero(mid_slice(run.frames("tcells")[k]) >= 128)
        ax.scatter(x * dx, y * dx, s=10, c=TCELL, edgecolors="white", linewidths=0.4)
    view = tumour_view([tumour], margin=0.5)
    if view is not None:
        ys, xs = view
        ax.set_xlim((xs.start - 0.5) * dx, (xs.stop - 0.5) * dx)
        ax.set_ylim((ys.start - 0.5) * dx, (ys.stop - 0.5) * dx)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=REGION_COLOURS[REGIONS[r]], label=r, ec="0.6") for r in ("core", "margin", "outside")]
    handles += [Patch(color=TUMOUR, label="tumour cell"), Line2D([], [], ls="", marker="o", ms=3, color=TCELL,
                                                               label="T cell")]
    legend_below(ax, handles, ncols=3)
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    z = "" if clone.ndim == 2 else f", z = {clone.shape[0] // 2}"
    ax.set_title(f"Regions, day {run.frames('tumour_clone').times[k]:.1f}{z} (margin {a.margin_width_um:g} µm)",
                 fontsize=9)


def _density_panel(ax, table, settings):
    t = table.index.to_numpy()
    for region, colour in (("core", "#6a51a3"), ("margin", "#e6550d"), ("outside", "0.5")):
        ax.plot(t, table[f"tcell_density_{region}_per_mm2"], color=colour, lw=1.5, label=region)
    ax.axhline(settings.desert_max_tcells_per_mm2, color="k", ls=":", lw=0.8, label="desert threshold")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("T cells per mm² (one-cell section)")
    ax.set_title("T-cell density per region; phenotype per frame (strip)", fontsize=9)
    ax.set_ylim(0, ax.get_ylim()[1] * 3)
    step = frame_step(t)
    for ti, p in zip(t, table["phenotype"]):
        ax.axvspan(ti - step / 2, ti + step / 2, ymin=0.93, ymax=1.0, color=PHENOTYPE_COLOURS[p], lw=0)
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=PHENOTYPE_COLOURS[p], label=p) for p in (*PHENOTYPES, NOT_EVALUABLE)]
    legend_below(ax, handles, ncols=4)
    time_limits(ax, t)


def _mixing_panel(ax, table, dim: int):
    t = table.index.to_numpy()
    shape = "tumour_circularity" if dim == 2 else "tumour_sphericity"
    ax.plot(t, table["same_clone_neighbour_fraction"], lw=1.5, label="same-clone neighbour fraction")
    ax.plot(t, table[shape], lw=1.5, label=shape.replace("_", " "))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("fraction")
    ax2 = ax.twinx()
    ax2.plot(t, table["clone_shannon_window"], color="C2", ls="--", lw=1.2, label="Shannon per window (nats)")
    ax2.plot(t, table["clone_shannon"], color="C3", ls="--", lw=1.2, label="Shannon, whole tumour (nats)")
    ax2.set_ylabel("clone diversity (nats)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    legend_below(ax, lines[0] + lines2[0], lines[1] + lines2[1])
    time_limits(ax, t)
    ax.set_title("Clone mixing and tumour shape", fontsize=9)


def spatial_figure(run, table=None, frame: int = -1):
    """A matplotlib Figure (no pyplot) of the run's spatial statistics;
    ``table`` defaults to ``run.analysis``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = run.analysis if table is None else table
    fig = Figure(figsize=(15.0, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, width_ratios=[1.0, 1.25, 1.25])
    _regions_panel(axes[0], run, frame)
    _density_panel(axes[1], table, run.config.analysis)
    _mixing_panel(axes[2], table, len(run.shape))
    return fig


def save_spatial_figure(run, out: str | Path, table=None, frame: int = -1) -> Path:
    out = Path(out)
    spatial_figure(run, table, frame).savefig(out, dpi=100)
    return out
