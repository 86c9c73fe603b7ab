"""gpusim plot: the figure (growth curves with therapy, snapshot, Muller
plot) and movies, checked as decoded images."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from conftest import make_config
from PIL import Image

import gpusim
from gpusim.cli.main import main
from gpusim.plots import FIGURE_DPI, FIGURE_SIZE_IN, run_figure
from gpusim.plots.movie import MOVIE_DPI, MOVIE_SIZE_IN
from gpusim.plots.muller import muller_data
from gpusim.plots.snapshot import Snapshot, mid_slice
from gpusim.plots.style import family
from gpusim.state import CLONE_HLA, CLONE_PDL1

FIGURE_PX = (round(FIGURE_SIZE_IN[0] * FIGURE_DPI), round(FIGURE_SIZE_IN[1] * FIGURE_DPI))
MOVIE_PX = (round(MOVIE_SIZE_IN * MOVIE_DPI),) * 2


@pytest.mark.parametrize("which", ["quickstart_run", "therapy_run"])
def test_plot_png_and_gif(which, request, tmp_path, capsys):
    run = request.getfixturevalue(which)
    capsys.readouterr()  # the fixture's own output
    png, gif = tmp_path / "out.png", tmp_path / "out.gif"
    assert main(["plot", str(run), "-o", str(png), "--movie", str(gif)]) == 0
    assert capsys.readouterr().out.split() == [str(png), str(gif)]
    with Image.open(png) as im:
        assert im.size == FIGURE_PX == (1500, 460)
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (460, 1500) and pixels.std() > 0.05  # decodes, and is not blank
    with Image.open(gif) as im:
        assert im.size == MOVIE_PX and im.n_frames == 4  # frames at steps 0, 144, 288, 300


def test_plot_default_output_and_mp4(quickstart_run, tmp_path):
    run = tmp_path / "q.h5"
    run.write_bytes(quickstart_run.read_bytes())
    assert main(["plot", str(run)]) == 0
    assert (tmp_path / "q.png").exists()
    mp4 = tmp_path / "q.mp4"
    assert main(["plot", str(run), "--movie", str(mp4), "--fps", "4"]) == 0
    data = mp4.read_bytes()
    assert len(data) > 1000 and data[4:8] == b"ftyp"


def test_therapy_schedule_is_drawn(therapy_run):
    with gpusim.open_run(therapy_run) as run:
        fig = run_figure(run)
        tcells = ["T cells"] if "tcells" in run.observables else []
    curves = fig.axes[0]
    labels = [t.get_text() for t in curves.get_legend().get_texts()]
    assert labels == ["tumour cells", *tcells, "checkpoint blockade", "chemotherapy", "vaccine"]
    spans = [p for p in curves.patches]  # the two windows
    assert len(spans) == 2
    pulses = [line for line in curves.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in pulses] == [1.0]


def test_snapshot_highlights_escape_clones_and_overlays_tcells_in_3d(tmp_path):
    cfg = make_config(simulation={"steps": 80, "dt_minutes": 60.0}, lattice={"shape": [14, 12, 9]},
                      tumour={"division_rate_per_day": 4.0, "pdl1_prob_per_division": 0.3,
                              "initial_radius_cells": 2.5},
                      immune={"initial_tcells": 150, "kill_attempt_rate_per_day": 0.0},
                      output={"frame_every_steps": 20})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    from matplotlib.figure import Figure

    with gpusim.open_run(tmp_path / "run.h5") as run:
        flags = run.clones["flags"].to_numpy()
        assert (flags & CLONE_PDL1).any(), "the case must have escape clones"
        snap = Snapshot(Figure().add_subplot(), run, -1)
        ids = mid_slice(run.frames("tumour_clone")[-1])
        tc = mid_slice(run.frames("tcells")[-1])
        assert ids.shape == (12, 14) and "z = 4" in snap.ax.get_title()
    image = snap.image.get_array()
    escape = flags[ids] & (CLONE_PDL1 | CLONE_HLA)
    pdl1_only = escape == CLONE_PDL1
    plain = (ids > 0) & (escape == 0)
    assert pdl1_only.any() and plain.any()
    assert {family(c) for c in image[pdl1_only]} == {"PD-L1 high"}  # escape clones in the red family
    assert {family(c) for c in image[plain]} == {"ordinary"}
    assert (image[ids == 0] == 1.0).all()  # empty sites white
    assert len(snap.dots.get_offsets()) == int(np.count_nonzero(tc)) > 0


def test_muller_groups_small_clones_into_kept_ancestors(tmp_path):
    cfg = make_config(simulation={"steps": 200, "dt_minutes": 30.0}, lattice={"shape": [40, 40]},
                      tumour={"mutations_per_division": 0.4, "neoantigen_fraction": 1.0, "division_rate_per_day": 3.0},
                      output={"frame_every_steps": 20})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    with gpusim.open_run(tmp_path / "run.h5") as run:
        assert len(run.clones) > 30
        times, order, parents, counts = muller_data(run, top=6)
        frames = run.frames("tumour_clone")
        totals = [int(np.count_nonzero(frames[k])) for k in range(len(frames))]
        parent = run.clones["parent"].to_numpy()
    assert order[0] == 1 and len(order) == 6 and parents[0] == -1
    assert all(0 <= p < i for i, p in enumerate(parents) if i)  # parents drawn before children
    for i, c in enumerate(order[1:], 1):  # each kept clone's band parent is an ancestor
        a = c
        while a != order[parents[i]]:
            a = parent[a]
            assert a != 0
    np.testing.assert_array_equal(counts.sum(axis=1), totals)  # every cell counted once
    np.testing.assert_allclose(times, np.arange(11) * 20 * 30 / 1440)


@pytest.mark.parametrize("args,fragment", [
    (["--movie", "x.avi"], "movie must be .gif or .mp4"),
    (["--frame", "9"], "--frame 9"),
])
def test_plot_bad_arguments(quickstart_run, tmp_path, capsys, args, fragment):
    args = [str(tmp_path / a) if a.endswith(".avi") else a for a in args]
    assert main(["plot", str(quickstart_run), "-o", str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not (tmp_path / "x.png").exists()


def test_snapshot_legend_names_every_clone_family_and_tcells_leave_the_tumour_visible(quickstart_run):
    from matplotlib.figure import Figure

    from matplotlib.colors import to_rgba

    from gpusim.plots.snapshot import TCELL_DOT
    from gpusim.plots.style import FAMILY_LABELS, family_colour

    with gpusim.open_run(quickstart_run) as run:
        snap = Snapshot(Figure().add_subplot(), run, -1)
    legend = snap.ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [*FAMILY_LABELS.values(), "T cells"]
    assert "PD-L1 high + HLA lost" in labels  # magenta has its entry
    colours = [tuple(h.get_facecolor()) for h in legend.legend_handles[:len(FAMILY_LABELS)]]
    assert [family(c) for c in colours] == list(FAMILY_LABELS)
    assert colours[-1] == pytest.approx(family_colour("both"))
    # Dots of a fixed share of a site (data units: visible at any zoom, the tumour cell's corners still
    # showing), with an edge in points for sites of a pixel, in the legend's colour.
    dot = legend.legend_handles[-1]
    assert tuple(snap.dots.get_facecolor()[0]) == pytest.approx(to_rgba(dot.get_color()))
    assert TCELL_DOT["site_fraction"] < 1 and snap.dots.get_linewidths()[0] == TCELL_DOT["edge_pt"] > 0
    assert snap.dots._widths[0] == pytest.approx(TCELL_DOT["site_fraction"] * run.config.lattice.dx_um / 2)
    assert legend.get_bbox_to_anchor().x0 >= snap.ax.get_window_extent().x1 - 1  # beside the lattice, not on it


def test_muller_key_labels_kept_clones_with_id_r_and_flags(tmp_path):
    cfg = make_config(simulation={"steps": 120, "dt_minutes": 30.0}, lattice={"shape": [30, 30]},
                      tumour={"mutations_per_division": 0.4, "neoantigen_fraction": 1.0, "pdl1_prob_per_division": 0.2,
                              "division_rate_per_day": 3.0}, output={"frame_every_steps": 20})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    with gpusim.open_run(tmp_path / "run.h5") as run:
        fig = run_figure(run, top=5)
        _, order, _, _ = muller_data(run, top=5)
        clones = run.clones
    labels = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert len(labels) == len(order) == 5
    for label, c in zip(labels, order):
        r = clones.loc[c, "r"]
        shown = float(label.split(": r ")[1].split(",")[0])
        assert label.startswith(f"{c}: r ") and shown == pytest.approx(r, rel=0.05, abs=1e-12), (label, r)
        assert ("PD-L1 high" in label) == bool(clones.loc[c, "pdl1"])


def test_muller_bands_are_told_apart_and_elimination_leaves_no_artifact(tmp_path):
    """Ten kept clones of one family: ten different colours, matched to
    their key entries; after the last tumour cell, no band (no line at 0.5)."""
    from matplotlib.colors import to_rgba

    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from gpusim.plots.muller import draw_muller

    cfg = make_config(simulation={"steps": 200, "dt_minutes": 30.0}, lattice={"shape": [40, 40]},
                      tumour={"mutations_per_division": 0.4, "division_rate_per_day": 3.0},
                      output={"frame_every_steps": 20})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    with gpusim.open_run(tmp_path / "run.h5") as run:
        ax = Figure().add_subplot()
        draw_muller(ax, run, top=10)
    bands = ax.collections
    colours = [tuple(np.round(b.get_facecolor()[0], 3)) for b in bands]
    assert len(bands) == 10 and len(set(colours)) == 10
    keys = [tuple(np.round(to_rgba(h.get_facecolor()), 3)) for h in ax.get_legend().legend_handles]
    assert keys == colours
    # An eliminated end: cells at days 0 and 1, none at days 2 and 3.
    import pandas as pd

    from gpusim.plots import muller

    own = np.array([[3, 1], [2, 1], [0, 0], [0, 0]])
    fake = SimpleNamespace(clones=pd.DataFrame({"flags": np.zeros(3, np.uint8), "r": np.zeros(3)}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(muller, "muller_data", lambda run, top: (np.arange(4.0), [1, 2], [-1, 0], own))
        ax = Figure().add_subplot()
        draw_muller(ax, fake)
    for band in ax.collections[:2]:
        xs = np.concatenate([p.vertices[:, 0] for p in band.get_paths()])
        assert xs.max() <= 1.0  # nothing drawn after the last frame with tumour cells


def test_components_draw_their_curves_and_layers_in_their_style(tmp_path):
    """Each component's counts and site layers reach the figure from the
    registry (gpusim.components CURVES, MARKERS): a new component needs no
    edit of the plots."""
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    from gpusim.components import COMPONENTS, CURVES, MARKERS
    from gpusim.plots.curves import draw_curves

    cfg = make_config(simulation={"steps": 2, "dt_minutes": 60.0}, lattice={"shape": [12, 12]},
                      tumour={"initial_radius_cells": 3.0}, immune={"initial_tcells": 10, "vessel_density": 0.05},
                      ifng={"enabled": True}, tregs={"enabled": True, "recruitment_rate_per_day": 20.0},
                      oxygen={"enabled": True}, output={"frame_every_steps": 2})
    gpusim.run_to_file(cfg, tmp_path / "run.h5", backend="numpy")
    with gpusim.open_run(tmp_path / "run.h5") as run:
        snap = Snapshot(Figure().add_subplot(), run, -1)
        ax = Figure().add_subplot()
        draw_curves(ax, run)
    on = [c for c in COMPONENTS if c.name in ("ifng", "tregs", "oxygen")]
    assert {n for c in on for n in c.curves} <= set(CURVES) and {n for c in on for n in c.markers} <= set(MARKERS)
    labels = [t.get_text() for t in snap.ax.get_legend().get_texts()]
    assert labels[-len(MARKERS):] == [label for label, *_ in MARKERS.values()]
    lines = {line.get_label(): line for line in ax.get_lines()}
    for label, colour, ls in CURVES.values():
        assert to_rgba(lines[label].get_color()) == to_rgba(colour) and lines[label].get_linestyle() == ls
