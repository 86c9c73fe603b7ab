"""Lattice snapshot: tumour clones coloured (escape clones highlighted), T
cells on top; the middle z slice of a 3D lattice."""

from __future__ import annotations

import numpy as np

from .style import TCELL, clone_colours, colour_image


def mid_slice(frame: np.ndarray) -> np.ndarray:
    """A 2D (ny, nx) view of a frame: itself, or its middle z slice."""
    return frame if frame.ndim == 2 else frame[frame.shape[0] // 2]


class Snapshot:
    """Draws frame k of a run into ``ax``; ``update(k)`` redraws (movies)."""

    def __init__(self, ax, run, k: int = -1):
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
        self.dots = ax.scatter([], [], s=4, c=TCELL, marker="o", linewidths=0, label="T cells")
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        ax.set_aspect("equal")
        self.update(k)

    def update(self, k: int):
        frame = mid_slice(self.clones[k])
        self.image.set_data(colour_image(frame, self.table))
        if self.tcells is not None and len(self.tcells) == len(self.clones):
            y, x = np.nonzero(mid_slice(self.tcells[k]))
            self.dots.set_offsets(np.column_stack([x, y]) * self.dx)
        z = "" if len(self.clones.shape) == 2 else f", z = {self.clones.shape[0] // 2}"
        self.ax.set_title(f"Lattice, day {self.clones.times[k]:.1f}{z}")
        return self.image, self.dots
