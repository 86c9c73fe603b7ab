"""Cells that follow the T-cell pattern, in NumPy (twin of kernels/agent.cuh):
the chemotactic move through the claim protocol, written once for the CD8 T
cells and the regulatory T cells; contact with an agent of a layer."""

from __future__ import annotations

import numpy as np

from .. import claim
from ..rng import draw
from ..signals import poll
from .field import field_cell
from .lattice import neighbours


def move_agents(st, mp, layer: np.ndarray, phase: int, n_moves: int, full_moves: int, p_partial: int,
                chemotaxis) -> None:
    """``n_moves`` move substeps of every agent of ``layer`` (u8, 0 = none):
    a neighbour picked with weight 1 + chemotaxis * max(0, c_j - c_i) on the
    chemokine, taken if that site of the layer is free (lowest bid wins);
    substeps from ``full_moves`` on are taken with threshold ``p_partial``."""
    chem = st.extra["chemokine"]
    one = np.float32(1)
    for s in range(n_moves):
        src = np.flatnonzero(layer)
        w = draw(src, st.step, phase, s, mp.key)
        if s >= full_moves:  # the fractional substep: taken with probability = the fraction
            take = w[:, 2] < p_partial
            src, w = src[take], w[take]
        nb = neighbours(mp, src)
        valid = nb >= 0
        ci = chem[field_cell(mp, src)]
        d = chem[field_cell(mp, np.maximum(nb, 0))] - ci[:, None]
        weight = one + chemotaxis * np.where(d > 0, d, np.float32(0))
        total = np.zeros(len(src), dtype=np.float32)
        for k in range(nb.shape[1]):
            total = np.where(valid[:, k], total + weight[:, k], total)
        x = ((w[:, 0] >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)) * total
        cum = np.zeros(len(src), dtype=np.float32)
        chosen = np.full(len(src), -1, dtype=np.int64)
        done = np.zeros(len(src), dtype=bool)
        for k in range(nb.shape[1]):
            step_k = valid[:, k] & ~done
            cum = np.where(step_k, cum + weight[:, k], cum)
            chosen = np.where(step_k, nb[:, k], chosen)
            done |= step_k & (x < cum)
        go = (chosen >= 0) & (layer[np.maximum(chosen, 0)] == 0)
        src, dest = src[go], chosen[go]
        won = claim.winners(mp.n_sites, dest, claim.bid(w[go, 1], src))
        src, dest = src[won], dest[won]
        layer[dest] = layer[src]
        layer[src] = 0
        poll()


def near(mp, layer: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Per site of ``sites``: an agent of ``layer`` there or at a neighbour."""
    nb = neighbours(mp, sites)
    return (layer[sites] != 0) | ((nb >= 0) & (layer[np.maximum(nb, 0)] != 0)).any(axis=1)
