"""Tumour rules in NumPy (twin of kernels/tumour.cu, written from DESIGN §4).

Deaths (killed, spontaneous, chemotherapy), then two-phase division into
empty neighbours, then mutation of daughters (k ~ Poisson(mu) new
mutations, each a neoantigen with probability neoantigen_fraction; PD-L1
and HLA-loss escapes) and founding of new clones numbered in site order.
"""

from __future__ import annotations

import numpy as np

from .. import claim
from ..abi import constants
from ..rng import draw, mulhi
from ..state import CELL_DIVISIONS_MASK, CELL_KILLED, CELL_STEM, CLONE_HLA, CLONE_PDL1, grow_clone_table
from .field import field_cell
from .lattice import neighbours, pick_nth

_C = constants()
PH_TUMOUR_DEATH, PH_DIVIDE, PH_MUTATE = (_C["PHASE_TUMOUR_DEATH"], _C["PHASE_TUMOUR_DIVIDE"], _C["PHASE_TUMOUR_MUTATE"])
IMMUNO_TABLE = _C["IMMUNO_TABLE"]


def combine_recognition(parent_t: np.ndarray, a_t: np.ndarray) -> np.ndarray:
    """r_child = 1 - (1 - r)(1 - a) on thresholds: complements multiplied,
    high 32 bits kept (the same integer arithmetic on every backend)."""
    return ~mulhi(~parent_t.astype(np.uint32), ~a_t.astype(np.uint32))


def _add_population(pop: np.ndarray, clone_ids: np.ndarray, sign: int) -> None:
    counts = np.bincount(clone_ids, minlength=len(pop))[: len(pop)].astype(np.uint32)
    if sign > 0:
        pop += counts
    else:
        pop -= counts


def death(st, mp, sp, events: dict) -> None:
    """Killed (flag from the killing phase), spontaneous and chemotherapy
    deaths; each kill leaves a chemokine burst in its field cell."""
    clone, cell = st.sites["clone"], st.sites["cell"]
    occupied = np.flatnonzero(clone)
    killed = (cell[occupied] & CELL_KILLED) != 0
    w = draw(occupied, st.step, PH_TUMOUR_DEATH, 0, mp.key)
    dies = killed | (w[:, 0] < mp.p_tumour_death) | (w[:, 1] < sp.p_chemo_tumour)
    dying = occupied[dies]
    _add_population(st.clones["population"], clone[dying], -1)
    clone[dying] = 0
    cell[dying] = 0
    victims = occupied[killed]
    st.extra["kill_bursts"] += np.bincount(field_cell(mp, victims), minlength=mp.n_field).astype(np.uint32)
    events["deaths"] = len(dying)
    events["kills"] = len(victims)


def divide(st, mp, events: dict) -> None:
    clone, cell = st.sites["clone"], st.sites["cell"]
    occupied = np.flatnonzero(clone)
    cb = cell[occupied]
    able = occupied[((cb & CELL_STEM) != 0) | ((cb & CELL_DIVISIONS_MASK) > 0)]
    w = draw(able, st.step, PH_DIVIDE, 0, mp.key)
    go = w[:, 0] < mp.p_tumour_divide
    if mp.o2_on:  # oxygen (gpusim/reference/oxygen.py): a hypoxic cell does not divide
        go &= st.extra["oxygen_deficit"][field_cell(mp, able)] <= mp.o2_hypoxic_deficit
    mothers, w = able[go], w[go]

    # Propose: each mother bids for one uniformly chosen empty neighbour.
    nb = neighbours(mp, mothers)
    free = (nb >= 0) & (clone[np.maximum(nb, 0)] == 0)
    n_free = free.sum(axis=1)
    has = n_free > 0
    mothers, w, nb, free, n_free = mothers[has], w[has], nb[has], free[has], n_free[has]
    targets = pick_nth(nb, free, mulhi(w[:, 1], n_free))

    # Commit: the lowest bid on each target wins.
    won = claim.winners(mp.n_sites, targets, claim.bid(w[:, 2], mothers))
    mothers, targets, w = mothers[won], targets[won], w[won]
    mcell = cell[mothers]
    stem = (mcell & CELL_STEM) != 0
    stem_daughter = np.where(w[:, 3] < mp.p_stem_symmetric, CELL_STEM, mp.max_divisions)
    daughter = np.where(stem, stem_daughter, (mcell & CELL_DIVISIONS_MASK) - 1).astype(np.uint8)
    cell[mothers[~stem]] = daughter[~stem]
    clone[targets] = clone[mothers]
    cell[targets] = daughter
    events["divisions"] = len(targets)

    # Mutation of daughters: k ~ Poisson(mu) new mutations and escape events.
    m = draw(targets, st.step, PH_MUTATE, 0, mp.key)
    k = new_mutations(mp, m[:, 0])
    pdl1 = m[:, 1] < mp.p_mut_pdl1
    hla = m[:, 2] < mp.p_mut_hla
    mutant = (k > 0) | pdl1 | hla
    _add_population(st.clones["population"], clone[targets[~mutant]], +1)
    _found_clones(st, mp, targets[mutant], k[mutant], pdl1[mutant], hla[mutant])
    events["new_clones"] = int(mutant.sum())


def new_mutations(mp, word: np.ndarray) -> np.ndarray:
    """k ~ Poisson(mu), capped at MUTATION_TABLE: how many survival
    thresholds P(k > m) the daughter's first mutation word falls below."""
    return (word[:, None] < mp.mutation_sf[None, :]).sum(axis=1).astype(np.uint32)


def _found_clones(st, mp, sites, k, pdl1, hla) -> None:
    """New clones get consecutive ids in increasing site order.  Each of a
    daughter's k mutations is a neoantigen with probability
    neoantigen_fraction; their immunogenicities fold into r in mutation
    order (two mutations per Philox draw, philox.cuh)."""
    order = np.argsort(sites, kind="stable")
    sites, k, pdl1, hla = sites[order], k[order], pdl1[order], hla[order]
    n = len(sites)
    if n == 0:
        return
    first = st.n_clones
    st.clones = grow_clone_table(st.clones, first + n, np)
    t = st.clones
    ids = np.arange(first, first + n)
    parents = st.sites["clone"][sites]
    neo = t["neoantigens"][parents].copy()
    recog = t["recognition"][parents].copy()
    for q in range(0, int(k.max()), 2):
        for half in (0, 1):  # mutation q + half uses words (2 half, 2 half + 1) of draw 1 + q / 2
            rows = np.flatnonzero(k > q + half)
            d = draw(sites[rows], st.step, PH_MUTATE, 1 + q // 2, mp.key)
            is_neo = d[:, 2 * half] < mp.p_neoantigen
            hit = rows[is_neo]
            a = mp.immunogenicity[mulhi(d[is_neo, 2 * half + 1], IMMUNO_TABLE)]
            neo[hit] += 1
            recog[hit] = combine_recognition(recog[hit], a)
    t["parent"][ids] = parents
    t["birth_step"][ids] = st.step
    t["mutations"][ids] = k
    t["mutations_total"][ids] = t["mutations_total"][parents] + k
    t["neoantigens"][ids] = neo
    t["recognition"][ids] = recog
    t["flags"][ids] = t["flags"][parents] | np.where(pdl1, CLONE_PDL1, 0) | np.where(hla, CLONE_HLA, 0)
    t["population"][ids] = 1
    st.sites["clone"][sites] = ids
    st.n_clones = first + n
