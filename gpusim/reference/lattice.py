"""Neighbour lookup for the NumPy reference."""

from __future__ import annotations

import numpy as np

NO_SITE = -1


def neighbours(mp, sites: np.ndarray) -> np.ndarray:
    """int64[len(sites), k]: index of each neighbour in canonical order, or
    -1 beyond a closed boundary."""
    nx, ny, nz = mp.shape
    sites = np.asarray(sites, dtype=np.int64)
    x = (sites % nx)[:, None] + mp.nbr[None, :, 0]
    y = ((sites // nx) % ny)[:, None] + mp.nbr[None, :, 1]
    z = (sites // (nx * ny))[:, None] + mp.nbr[None, :, 2]
    if mp.periodic:
        x, y, z = x % nx, y % ny, z % nz
        return x + nx * (y + ny * z)
    inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny) & (z >= 0) & (z < nz)
    return np.where(inside, x + nx * (y + ny * z), NO_SITE)


def pick_nth(candidates: np.ndarray, ok: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """Per row, the ``nth`` (0-based) entry of ``candidates`` where ``ok``."""
    rank = np.cumsum(ok, axis=1) - 1
    col = np.argmax(ok & (rank == nth[:, None]), axis=1)
    return candidates[np.arange(len(candidates)), col]

