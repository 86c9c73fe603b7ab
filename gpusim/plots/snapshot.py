"""Lattice snapshot: tumour clones coloured (escape clones highlighted), T
cells on top, and the microenvironment's layers where a run has them
(regulatory T cells, IFN-gamma-induced PD-L1, necrotic sites), each in the
legend; the middle z slice of a 3D lattice."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import EllipseCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..components import MARKERS
from .style import FAMILY_LABELS, TCELL, clone_colours, colour_image, family_colour

#: A T cell: a dot of this fraction of a site (data units: the same share of
#: a site at any zoom, the tumour cell beneath still showing at its corners),
#: drawn in the legend's colour with an edge of this width in points, so it
#: stays visible where a site is a pixel or less.
TCELL_DOT = {"site_fraction": 0.7, "edge_pt": 0.4}


def mid_slice(frame: np.ndarray) -> np.ndarray:
    """A 2D (ny, nx) view of a frame: itself, or its middle z slice."""
    return frame if frame.ndim == 2 else frame[frame.shape[0] // 2]


def tumour_view(frames: list[np.ndarray], margin: float = 0.3, least: int = 24) -> tuple[slice, slice] | None:
    """(y, x) index ranges framing every tumour cell of ``frames`` (2D slices)
    with a margin, at least ``least`` sites wide; None when they are empty."""
    occupied = np.zeros(frames[0].shape, bool)
    for f in frames:
        occupied |= f > 0
    if not occupied.any():
        return None
    out = []
    for axis in (1, 0):  # rows (y), then columns (x)
        idx = np.flatnonzero(occupied.any(axis=axis))
        lo, hi, n = idx[0], idx[-1] + 1, occupied.shape[1 - axis]
        pad = max(int(margin * (hi - lo)), (least - (hi - lo)) // 2, 2)
        out.append(slice(max(lo - pad, 0), min(hi + pad, n)))
    return out[0], out[1]


class Snapshot:
    """Draws frame k of a run into ``ax``; ``update(k)`` redraws (movies).

    The view is zoomed onto the tumour in the frames ``view_frames`` (default:
    frame k) so that a small tumour on a large lattice is visible."""

    def __init__(self, ax, run, k: int = -1, view_frames: list[int] | None = None, legend: str = "right"):
        self.run = run
        self.ax = ax
        self.clones = run.frames("tumour_clone")
        if not len(self.clones):
            raise ValueError("no frames")
        self.tcells = run.frames("tcells") if "tcells" in run.fields else None
        flags = run.clones["flags"].to_numpy() if "flags" in run.clones else np.zeros(len(run.clones), np.uint8)
        self.table = clone_colours(flags)
        dx = run.config.lattice.dx_um
        ny, nx = mid_slice(np.empty(self.clones.shape, dtype=bool)).shape
        self.dx = dx
        self.image = ax.imshow(np.zeros((ny, nx, 4)), origin="lower", interpolation="nearest",
                               extent=(-dx / 2, (nx - 0.5) * dx, -dx / 2, (ny - 0.5) * dx))
        self.dots = EllipseCollection([], [], [], units="xy", offsets=np.zeros((0, 2)), offset_transform=ax.transData,
                                      facecolors=TCELL, edgecolors=TCELL, linewidths=TCELL_DOT["edge_pt"],
                                      label="T cells")
        ax.add_collection(self.dots)
        # Site layers of the other components drawn over the clones when a run
        # has them (gpusim.components MARKERS: each component's style).
        self.layers = {name: (run.frames(name), ax.scatter([], [], c=colour, marker=marker, s=size,
                                                            alpha=alpha, linewidths=0.6 if marker == "+" else 0))
                       for name, (_, colour, marker, size, alpha) in MARKERS.items() if name in run.fields}
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        ax.set_aspect("equal")
        view = tumour_view([mid_slice(self.clones[i]) for i in (view_frames if view_frames is not None else [k])])
        if view is not None:
            ys, xs = view
            ax.set_xlim((xs.start - 0.5) * dx, (xs.stop - 0.5) * dx)
            ax.set_ylim((ys.start - 0.5) * dx, (ys.stop - 0.5) * dx)
        handles = [Patch(color=family_colour(kind), label=label) for kind, label in FAMILY_LABELS.items()]
        if self.tcells is not None:
            handles.append(Line2D([], [], ls="", marker="o", ms=4, color=TCELL, label="T cells"))
        for name in self.layers:
            label, colour, marker, _, alpha = MARKERS[name]
            handles.append(Line2D([], [], ls="", marker=marker, ms=3, color=colour, alpha=alpha, label=label))
        if legend == "below":  # a movie: the lattice gets the frame's whole width
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7, frameon=False,
                      handlelength=1.2, ncol=3)
        else:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False,
                      handlelength=1.2)  # beside the lattice: it never hides a cell
        self.update(k)

    def update(self, k: int):
        frame = mid_slice(self.clones[k])
        self.image.set_data(colour_image(frame, self.table))
        if self.tcells is not None and len(self.tcells) == len(self.clones):
            y, x = np.nonzero(mid_slice(self.tcells[k]))
            self.dots.set_offsets(np.column_stack([x, y]) * self.dx)
            size = np.full(len(x), TCELL_DOT["site_fraction"] * self.dx)
            self.dots.set_widths(size)
            self.dots.set_heights(size)
            self.dots.set_angles(np.zeros(len(x)))
        for frames, dots in self.layers.values():
            if len(frames) == len(self.clones):
                y, x = np.nonzero(mid_slice(frames[k]))
                dots.set_offsets(np.column_stack([x, y]) * self.dx)
        z = "" if len(self.clones.shape) == 2 else f", z = {self.clones.shape[0] // 2}"
        self.ax.set_title(f"Lattice, day {self.clones.times[k]:.1f}{z}")
        return self.image, self.dots
