"""Plots of a run file (matplotlib, Agg: no display needed).

:func:`run_figure` draws three panels -- growth curves with the therapy
schedule, a lattice snapshot, a Muller plot of the largest clones -- and
:func:`~gpusim.plots.movie.write_movie` renders the frames as GIF or MP4.
Figures are made without pyplot, so importing this leaves an interactive
matplotlib session alone.

>>> import gpusim, tempfile, os
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [30, 30]}, "simulation": {"steps": 40},
...                                     "output": {"frame_every_steps": 10}})
>>> d = tempfile.mkdtemp()
>>> _ = gpusim.run_to_file(cfg, os.path.join(d, "run.h5"), backend="numpy")
>>> with gpusim.open_run(os.path.join(d, "run.h5")) as run:
...     save_run_figure(run, os.path.join(d, "run.png")).name
'run.png'
"""

from __future__ import annotations

from pathlib import Path

FIGURE_SIZE_IN, FIGURE_DPI = (15.0, 4.6), 100  # 1500 x 460 pixels


def run_figure(run, frame: int = -1, top: int = 10):
    """A matplotlib Figure with growth curves, a snapshot of frame ``frame``
    and a Muller plot of the ``top`` largest clones."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .curves import draw_curves
    from .muller import draw_muller
    from .snapshot import Snapshot

    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, width_ratios=[1.3, 1, 1.3])
    draw_curves(axes[0], run)
    if "tumour_clone" in run.fields and len(run.frames("tumour_clone")):
        Snapshot(axes[1], run, frame)
        draw_muller(axes[2], run, top)
    else:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "no lattice frames\n(output.frame_every_steps = 0)", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
    fig.suptitle(f"{run.path.name}: {run.status}, {run.steps} steps on {run.backend}", fontsize=10)
    return fig


def save_run_figure(run, out: str | Path, frame: int = -1, top: int = 10) -> Path:
    out = Path(out)
    run_figure(run, frame, top).savefig(out, dpi=FIGURE_DPI)
    return out
