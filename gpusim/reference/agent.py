"""Cells that follow the T-cell pattern, in NumPy (twin of kernels/agent.cuh):
the chemotactic move through the claim protocol (CD8 T cells, regulatory T
cells, myeloid suppressors), entry at vessels and death (Tregs, myeloid
suppressors), contact with an agent of a layer."""

from __future__ import annotations

import numpy as np

from .. import claim
from ..abi import constants
from ..rng import draw
from ..signals import poll
from .field import chemokine_level, field_cell
from .lattice import neighbours


_C = constants()


def _phase(layer: str, what: str) -> int:
    return _C[f"PHASE_{layer.upper()}_{what}"]


# The phases of a cell kind (gpusim.components.agent_component), for the
# kind whose layer (and Params prefix) is ``layer``, drawn by ``field``.
def recruit(be, sp, events: dict, layer: str, field: str, event: str) -> None:
    st, mp = be.state, be.mp
    events[event] = recruit_agents(st, mp, st.sites[layer], st.extra[field], getattr(mp, f"{layer}_recruit"),
                                   _phase(layer, "RECRUIT"))


def migrate(be, sp, events: dict, layer: str, field: str) -> None:
    st, mp = be.state, be.mp
    move_agents(st, mp, st.sites[layer], _phase(layer, "MIGRATE"), getattr(mp, f"{layer}_n_moves"),
                getattr(mp, f"{layer}_full_moves"), getattr(mp, f"p_{layer}_partial_move"),
                getattr(mp, f"{layer}_chemotaxis"), field=field)


def death(be, sp, events: dict, layer: str, event: str) -> None:
    st, mp = be.state, be.mp
    events[event] = agent_deaths(st, mp, st.sites[layer], _phase(layer, "DEATH"), getattr(mp, f"p_{layer}_death"),
                                 getattr(sp, f"p_{layer}_deplete", 0), sp.p_chemo_tcell)  # 0: no therapy depletes it


def recruit_agents(st, mp, layer: np.ndarray, field: np.ndarray, table: np.ndarray, phase: int) -> int:
    """Entry at the empty vessel sites of ``layer``: threshold ``table`` at
    the level of ``field`` there.  Returns the number that entered."""
    sites = np.flatnonzero((st.sites["vessel"] != 0) & (layer == 0))
    level = chemokine_level(mp, field[field_cell(mp, sites)])
    new = sites[draw(sites, st.step, phase, 0, mp.key)[:, 0] < table[level]]
    layer[new] = 1
    return len(new)


def agent_deaths(st, mp, layer: np.ndarray, phase: int, p_death: int, p_deplete: int, p_chemo: int) -> int:
    """Deaths of the agents of ``layer``: lifespan, a depleting therapy,
    chemotherapy.  Returns the number that died."""
    sites = np.flatnonzero(layer)
    w = draw(sites, st.step, phase, 0, mp.key)
    dying = sites[(w[:, 0] < p_death) | (w[:, 1] < p_deplete) | (w[:, 2] < p_chemo)]
    layer[dying] = 0
    return len(dying)


def move_agents(st, mp, layer: np.ndarray, phase: int, n_moves: int, full_moves: int, p_partial: int,
                chemotaxis, field: str = "chemokine", hold: np.ndarray | None = None, p_hold: int = 0,
                stay: np.ndarray | None = None) -> None:
    """``n_moves`` move substeps of every agent of ``layer`` (u8, 0 = none):
    a neighbour picked with weight 1 + chemotaxis * max(0, c_j - c_i) on the
    coarse-grid ``field`` (the chemokine unless named), taken if that site
    of the layer is free (lowest bid wins); substeps from ``full_moves`` on
    are taken with threshold ``p_partial``; an agent next to a cell of the
    ``hold`` layer (if given) stays with threshold ``p_hold``; an agent on a
    nonzero site of ``stay`` (if given) stays (the CD8 T cells' arrest on
    engagement)."""
    chem = st.extra[field]
    one = np.float32(1)
    for s in range(n_moves):
        src = np.flatnonzero(layer)
        w = draw(src, st.step, phase, s, mp.key)
        if s >= full_moves:  # the fractional substep: taken with probability = the fraction
            take = w[:, 2] < p_partial
            src, w = src[take], w[take]
        if hold is not None:
            go = ~((w[:, 3] < p_hold) & near(mp, hold, src))
            src, w = src[go], w[go]
        if stay is not None:
            go = stay[src] == 0
            src, w = src[go], w[go]
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
