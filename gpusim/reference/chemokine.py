"""Chemokine rules in NumPy (twin of kernels/chemokine.cu): sources,
explicit diffusion substeps (von Neumann stencil, zero flux at a closed
boundary), decay.  float32 throughout, with the kernels' operation order."""

from __future__ import annotations

import numpy as np

from .field import field_cell, stencil_neighbours


def run_step(st, mp, stencil=None) -> None:
    chem = st.extra["chemokine"]
    bursts = st.extra["kill_bursts"]
    occupied = np.flatnonzero(st.sites["clone"])
    cells = np.bincount(field_cell(mp, occupied), minlength=mp.n_field).astype(np.float32)
    src = mp.chem_secretion * cells + mp.chem_burst * bursts.astype(np.float32)
    c = chem + src
    bursts[:] = 0
    for _ in range(mp.chem_substeps):
        c = diffuse(c, mp.chem_alpha, stencil or stencil_neighbours(mp))
    chem[:] = c * mp.chem_decay


def diffuse(c: np.ndarray, alpha: np.float32, stencil) -> np.ndarray:
    """One explicit substep: c + alpha * sum over neighbours of (c_j - c)."""
    lap = np.zeros_like(c)
    for idx, valid in stencil:
        lap = np.where(valid, lap + (c[idx] - c), lap)
    return c + alpha * lap
