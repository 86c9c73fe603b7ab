"""Lattice geometry shared by every backend: the canonical neighbour order
and the site <-> coordinate mapping (i = x + nx*(y + ny*z)).

The neighbour order is part of the model's definition (a uniform choice
among free neighbours is by position in this order), so it is defined here
once and handed to the kernels through ``Params``.

>>> offsets("von_neumann", 2).tolist()
[[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0]]
>>> len(offsets("moore", 3))
26
"""

from __future__ import annotations

import itertools

import numpy as np


def offsets(neighbourhood: str, dim: int) -> np.ndarray:
    """int32[k, 3] (dx, dy, dz) offsets: von Neumann (4/6) or Moore (8/26).

    Order: von Neumann is -x, +x, -y, +y(, -z, +z); Moore is every offset
    in lexicographic (dz, dy, dx) order, the centre left out.
    """
    if neighbourhood == "von_neumann":
        rows = []
        for axis in range(dim):
            for sign in (-1, 1):
                r = [0, 0, 0]
                r[axis] = sign
                rows.append(r)
    elif neighbourhood == "moore":
        zs = (-1, 0, 1) if dim == 3 else (0,)
        rows = [[dx, dy, dz] for dz, dy, dx in itertools.product(zs, (-1, 0, 1), (-1, 0, 1))
                if (dx, dy, dz) != (0, 0, 0)]
    else:
        raise ValueError(f"unknown neighbourhood {neighbourhood!r}")
    return np.array(rows, dtype=np.int32)


def full_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(nx, ny, nz) with nz = 1 for 2D lattices."""
    return (shape[0], shape[1], shape[2] if len(shape) == 3 else 1)


def coordinates(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z (int64) of every site, in site-index order."""
    nx, ny, nz = full_shape(shape)
    i = np.arange(nx * ny * nz, dtype=np.int64)
    return i % nx, (i // nx) % ny, i // (nx * ny)


def ball_mask(shape: tuple[int, ...], radius: float) -> np.ndarray:
    """bool[n_sites]: sites within ``radius`` (in sites) of the lattice centre."""
    x, y, z = coordinates(shape)
    nx, ny, nz = full_shape(shape)
    # Centre on a site ((n-1)//2) so a radius-0 ball is exactly one cell.
    d2 = (x - (nx - 1) // 2) ** 2 + (y - (ny - 1) // 2) ** 2 + (z - (nz - 1) // 2) ** 2
    return d2 <= radius * radius
