"""The coarse chemokine grid, for the NumPy reference."""

from __future__ import annotations

import numpy as np

from ..params import RECRUIT_LEVELS

#: The highest recruitment level (index into the step's recruit table).
TOP_LEVEL = np.float32(RECRUIT_LEVELS - 1)


def field_cell(mp, sites: np.ndarray) -> np.ndarray:
    """Field-cell index of lattice sites (coarsen x coarsen (x coarsen) blocks)."""
    nx, ny, _ = mp.shape
    fx, fy, _ = mp.field_shape
    k = mp.coarsen
    sites = np.asarray(sites, dtype=np.int64)
    x, y, z = sites % nx, (sites // nx) % ny, sites // (nx * ny)
    return x // k + fx * (y // k + fy * (z // k))


def chemokine_level(mp, c: np.ndarray) -> np.ndarray:
    """Recruitment level floor(c * scale), capped at the top level (float32 product)."""
    x = np.asarray(c, dtype=np.float32) * mp.chem_level_scale
    return np.minimum(x, TOP_LEVEL).astype(np.uint32)


def stencil_neighbours(mp):
    """[(index, valid)] for -x, +x, -y, +y(, -z, +z) of every field cell."""
    shape = mp.field_shape
    b = np.arange(mp.n_field, dtype=np.int64)
    coords = [b % shape[0], (b // shape[0]) % shape[1], b // (shape[0] * shape[1])]
    out = []
    for axis in range(mp.field_dim):
        for sign in (-1, 1):
            c = [a.copy() for a in coords]
            c[axis] = c[axis] + sign
            valid = (c[axis] >= 0) & (c[axis] < shape[axis])
            if mp.periodic:
                c[axis] %= shape[axis]
                valid[:] = True
            c[axis] = np.clip(c[axis], 0, shape[axis] - 1)
            out.append((c[0] + shape[0] * (c[1] + shape[1] * c[2]), valid))
    return out
