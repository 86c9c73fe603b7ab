"""Chemokine rules in NumPy (twin of kernels/chemokine.cu): sources,
explicit diffusion substeps (von Neumann stencil, zero flux at a closed
boundary), decay.  float32 throughout, with the kernels' operation order and
their floor (every product and stored value below 2**CHEM_FLOOR_EXP is 0:
field.cuh ``chem_floor``), so no subnormal number is ever made.

>>> chem_floor(np.array([1e-31, -1e-31, 1e-29, 0.5], dtype=np.float32)).tolist()
[0.0, 0.0, 1.0000000031710769e-29, 0.5]
"""

from __future__ import annotations

import numpy as np

from ..abi import constants
from ..signals import poll
from .field import field_cell, stencil_neighbours

CHEM_FLOOR = np.float32(2.0 ** constants()["CHEM_FLOOR_EXP"])


def chem_floor(x: np.ndarray) -> np.ndarray:
    """+0 where |x| < CHEM_FLOOR (twin of field.cuh ``chem_floor``)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where((x < CHEM_FLOOR) & (x > -CHEM_FLOOR), np.float32(0), x)


def run_step(st, mp, stencil=None) -> None:
    chem = st.extra["chemokine"]
    bursts = st.extra["kill_bursts"]
    occupied = np.flatnonzero(st.sites["clone"])
    cells = np.bincount(field_cell(mp, occupied), minlength=mp.n_field).astype(np.float32)
    src = chem_floor(mp.chem_secretion * cells) + chem_floor(mp.chem_burst * bursts.astype(np.float32))
    c = chem_floor(chem + src)
    bursts[:] = 0
    for _ in range(mp.chem_substeps):
        c = diffuse(c, mp.chem_alpha, stencil or stencil_neighbours(mp))
        poll()
    chem[:] = chem_floor(c * mp.chem_decay)


def diffuse(c: np.ndarray, alpha: np.float32, stencil) -> np.ndarray:
    """One explicit substep: floor(c + floor(alpha * sum over neighbours of (c_j - c)))."""
    lap = np.zeros_like(c)
    for idx, valid in stencil:
        lap = np.where(valid, lap + (c[idx] - c), lap)
    return chem_floor(c + chem_floor(alpha * lap))
