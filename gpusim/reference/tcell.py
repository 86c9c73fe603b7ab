"""T-cell rules in NumPy (twin of kernels/tcell.cu, written from DESIGN §4):
recruitment at vessels, adoptive transfer, killing with PD-L1 suppression,
exhaustion and HLA loss, expansion after a kill, chemotactic migration,
death and re-invigoration under PD-1 blockade."""

from __future__ import annotations

import numpy as np

from .. import claim
from ..abi import constants
from ..rng import draw, mulhi
from ..state import (CELL_KILLED, CLONE_HLA, CLONE_PDL1, TCELL_EXHAUSTION_MAX, TCELL_EXHAUSTION_SHIFT,
                     TCELL_KILLS_MASK, TCELL_PRESENT)
from .field import chemokine_level, field_cell
from .agent import move_agents, near
from .lattice import neighbours, pick_nth

_C = constants()
PH_RECRUIT, PH_TRANSFER, PH_KILL = _C["PHASE_RECRUIT"], _C["PHASE_TRANSFER"], _C["PHASE_KILL"]
PH_MIGRATE, PH_TCELL_DEATH = _C["PHASE_MIGRATE"], _C["PHASE_TCELL_DEATH"]


def _byte(kills, exhaustion) -> np.ndarray:
    return (TCELL_PRESENT | (np.asarray(exhaustion) << TCELL_EXHAUSTION_SHIFT) | kills).astype(np.uint8)


def exhaustion_level(t):
    """T-cell bytes ``t`` (NumPy or CuPy) -> their exhaustion levels (0 to
    TCELL_EXHAUSTION_MAX: PD-L1 contacts raise it, re-invigoration lowers it;
    kernels/tcell.cuh tcell_exhaustion_level).

    >>> int(exhaustion_level(_byte(5, 2)))
    2
    """
    return (t >> TCELL_EXHAUSTION_SHIFT) & TCELL_EXHAUSTION_MAX


def can_kill(t, exhaustion_threshold: int):
    """T-cell bytes ``t`` (NumPy or CuPy) -> which can still kill: kills left
    and exhaustion below the threshold (exhausted or spent T cells also die
    faster; the ``tcells_exhausted`` observable counts the others)."""
    return ((t & TCELL_KILLS_MASK) != 0) & (exhaustion_level(t) < exhaustion_threshold)


def recruit_threshold(sp, level: np.ndarray) -> np.ndarray:
    """Entry thresholds at chemokine ``level`` (twin of kernels/tcell.cu):
    the unprimed table plus the step's priming fraction (recruit_priming /
    2^32) of the way to the fully primed one, in integers."""
    lo = sp.recruit[level].astype(np.uint64)
    gap = sp.recruit_primed[level].astype(np.uint64) - lo
    return (lo + ((gap * np.uint64(sp.recruit_priming)) >> np.uint64(32))).astype(np.uint32)


def recruit(st, mp, sp, events: dict) -> None:
    tc = st.sites["tcell"]
    sites = np.flatnonzero((st.sites["vessel"] != 0) & (tc == 0))
    level = chemokine_level(mp, st.extra["chemokine"][field_cell(mp, sites)])
    w = draw(sites, st.step, PH_RECRUIT, 0, mp.key)
    enter = w[:, 0] < recruit_threshold(sp, level)
    if mp.myeloid_on:  # a perivascular myeloid suppressor (gpusim/reference/myeloid.py) blocks the entry
        enter &= ~((w[:, 1] < mp.p_myeloid_block) & near(mp, st.sites["myeloid"], sites))
    new = sites[enter]
    tc[new] = _byte(mp.kills_per_tcell, 0)
    events["recruited"] = len(new)
    events["transferred"] = 0
    for cells, where in sp.transfers:
        free = tc == 0
        if where == "tumour":
            free &= st.sites["clone"] != 0
        sites = np.flatnonzero(free)
        w = draw(sites, st.step, PH_TRANSFER, 0, mp.key)[:, 0]
        chosen = claim.lowest_sources(claim.bid(w, sites), cells)
        tc[chosen] = _byte(mp.kills_per_tcell, 0)
        events["transferred"] += len(chosen)


def kill(st, mp, sp, events: dict) -> None:
    tc, clone, cell = st.sites["tcell"], st.sites["clone"], st.sites["cell"]
    t_sites = np.flatnonzero(tc)
    t_sites = t_sites[can_kill(tc[t_sites], mp.exhaustion_threshold)]
    w0 = draw(t_sites, st.step, PH_KILL, 0, mp.key)
    keep = w0[:, 0] < mp.p_kill_attempt
    t_sites, w0 = t_sites[keep], w0[keep]
    # Candidates: own site first, then neighbours, each only with a tumour cell.
    nb = neighbours(mp, t_sites)
    cand = np.concatenate([t_sites[:, None], nb], axis=1)
    ok = (cand >= 0) & (clone[np.maximum(cand, 0)] != 0)
    n = ok.sum(axis=1)
    keep = n > 0
    t_sites, w0, cand, ok, n, nb = t_sites[keep], w0[keep], cand[keep], ok[keep], n[keep], nb[keep]
    target = pick_nth(cand, ok, mulhi(w0[:, 1], n))
    c = clone[target]
    flags = st.clones["flags"][c]
    visible = (flags & CLONE_HLA) == 0
    t_sites, w0, target, c, flags, nb = t_sites[visible], w0[visible], target[visible], c[visible], \
        flags[visible], nb[visible]
    w1 = draw(t_sites, st.step, PH_KILL, 1, mp.key)
    t = tc[t_sites]
    kills = (t & TCELL_KILLS_MASK).astype(np.int64)
    exhaustion = exhaustion_level(t).astype(np.int64)
    pdl1 = (flags & CLONE_PDL1) != 0
    recognised = w0[:, 2] < st.clones["recognition"][c]
    if mp.tcell_arrest_steps:  # arrest on engagement: recognising the target holds the T cell
        st.sites["tcell_engaged"][t_sites[recognised]] = mp.tcell_arrest_steps
    if mp.ifng_on:  # IFN-gamma (gpusim/reference/ifng.py): released on recognition, induces PD-L1
        st.extra["ifng_sources"] += np.bincount(field_cell(mp, t_sites[recognised]),
                                                minlength=mp.n_field).astype(np.uint32)
        pdl1 |= st.sites["pdl1_induced"][target] != 0
    exhaustion += pdl1 & (w1[:, 0] < sp.p_exhaust) & (exhaustion < TCELL_EXHAUSTION_MAX)
    success = recognised & (~pdl1 | (w1[:, 1] < sp.p_pdl1_pass))
    expand_ok = np.ones(len(t_sites), dtype=bool)
    if mp.treg_on or mp.o2_on:
        # Regulatory T cells (gpusim/reference/treg.py): contact suppresses kill and expansion;
        # oxygen (gpusim/reference/oxygen.py): a hypoxic target is killed less often.
        rows = np.flatnonzero(success)
        treg = near(mp, st.sites["treg"], t_sites[rows]) if mp.treg_on else np.zeros(len(rows), dtype=bool)
        hypoxic = (st.extra["oxygen_deficit"][field_cell(mp, target[rows])] > mp.o2_hypoxic_deficit) if mp.o2_on \
            else np.zeros(len(rows), dtype=bool)
        keep = treg | hypoxic
        rows, treg, hypoxic = rows[keep], treg[keep], hypoxic[keep]
        w2 = draw(t_sites[rows], st.step, PH_KILL, 2, mp.key)
        passed = np.where(treg, w2[:, 0] < mp.p_treg_pass, True) & (~hypoxic | (w2[:, 2] < mp.p_hypoxic_kill_pass))
        success[rows] = passed
        expand_ok[rows] = ~treg | (w2[:, 1] < mp.p_treg_pass)
    if mp.myeloid_on:  # myeloid suppressors (gpusim/reference/myeloid.py): contact suppresses kill and expansion
        rows = np.flatnonzero(success)
        rows = rows[near(mp, st.sites["myeloid"], t_sites[rows])]
        w3 = draw(t_sites[rows], st.step, PH_KILL, 3, mp.key)
        success[rows] = w3[:, 0] < mp.p_myeloid_pass
        expand_ok[rows] &= w3[:, 1] < mp.p_myeloid_pass
    cell[target[success]] |= CELL_KILLED
    kills -= success
    # Expansion bids, judged against the T layer before any daughter is placed.
    expand = success & expand_ok & (w1[:, 2] < mp.p_expand)
    free = (nb >= 0) & (tc[np.maximum(nb, 0)] == 0)
    n_free = free.sum(axis=1)
    expand &= n_free > 0
    tc[t_sites] = _byte(kills, exhaustion)
    mothers = t_sites[expand]
    dest = pick_nth(nb[expand], free[expand], mulhi(w1[expand, 3], n_free[expand]))
    won = claim.winners(mp.n_sites, dest, claim.bid(w0[expand, 3], mothers))
    mother_exhaustion = exhaustion_level(tc[mothers[won]])
    tc[dest[won]] = _byte(mp.kills_per_tcell, mother_exhaustion)
    events["expansions"] = int(won.sum())


def migrate(st, mp) -> None:
    move_agents(st, mp, st.sites["tcell"], PH_MIGRATE, mp.n_moves, mp.full_moves, mp.p_partial_move, mp.chemotaxis,
                hold=st.sites["myeloid"] if mp.myeloid_on else None, p_hold=mp.p_myeloid_hold,
                stay=st.sites["tcell_engaged"] if mp.tcell_arrest_steps else None)


def death(st, mp, sp, events: dict) -> None:
    tc = st.sites["tcell"]
    sites = np.flatnonzero(tc)
    p = np.where(can_kill(tc[sites], mp.exhaustion_threshold), mp.p_tcell_death, mp.p_tcell_death_exhausted)
    w = draw(sites, st.step, PH_TCELL_DEATH, 0, mp.key)
    dies = (w[:, 0] < p) | (w[:, 1] < sp.p_chemo_tcell)
    dying = sites[dies]
    # Re-invigoration under PD-1 blockade (p_reinvigorate 0 without it, or with the rule off):
    # a survivor with exhaustion above 0 sheds one level.
    exhaustion = exhaustion_level(tc[sites])
    sheds = ~dies & (exhaustion > 0) & (w[:, 2] < sp.p_reinvigorate)
    tc[sites[sheds]] = _byte(tc[sites[sheds]] & TCELL_KILLS_MASK, exhaustion[sheds] - 1)
    tc[dying] = 0
    if mp.tcell_arrest_steps:  # a step of arrest has passed; the next T cell at a dead one's site starts free
        engaged = st.sites["tcell_engaged"]
        engaged[sites] = np.where(engaged[sites] > 0, engaged[sites] - 1, 0)
        engaged[dying] = 0
    events["tcell_deaths"] = len(dying)
