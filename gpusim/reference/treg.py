"""Regulatory T cells in NumPy (twin of kernels/treg.cu): recruitment at
vessels, chemotactic moves (gpusim/reference/agent.py), death (lifespan,
anti-CTLA-4 depletion, chemotherapy).  Their suppression of CD8 killing is
applied in :func:`gpusim.reference.tcell.kill`."""

from __future__ import annotations

import numpy as np

from ..abi import constants
from ..params import migration_moves, rate_probability, saturating_table, threshold
from ..rng import draw
from .agent import move_agents
from .field import chemokine_level, field_cell

_C = constants()
PH_RECRUIT, PH_MIGRATE, PH_DEATH = _C["PHASE_TREG_RECRUIT"], _C["PHASE_TREG_MIGRATE"], _C["PHASE_TREG_DEATH"]


def recruit(be, sp, events: dict) -> None:
    st, mp = be.state, be.mp
    tr = st.sites["treg"]
    sites = np.flatnonzero((st.sites["vessel"] != 0) & (tr == 0))
    level = chemokine_level(mp, st.extra["chemokine"][field_cell(mp, sites)])
    new = sites[draw(sites, st.step, PH_RECRUIT, 0, mp.key)[:, 0] < mp.treg_recruit[level]]
    tr[new] = 1
    events["tregs_recruited"] = len(new)


def migrate(be, sp, events: dict) -> None:
    st, mp = be.state, be.mp
    move_agents(st, mp, st.sites["treg"], PH_MIGRATE, mp.treg_n_moves, mp.treg_full_moves, mp.p_treg_partial_move,
                mp.treg_chemotaxis)


def death(be, sp, events: dict) -> None:
    st, mp = be.state, be.mp
    tr = st.sites["treg"]
    sites = np.flatnonzero(tr)
    w = draw(sites, st.step, PH_DEATH, 0, mp.key)
    dying = sites[(w[:, 0] < mp.p_treg_death) | (w[:, 1] < sp.p_treg_deplete) | (w[:, 2] < sp.p_chemo_tcell)]
    tr[dying] = 0
    events["treg_deaths"] = len(dying)


def observe(state, cfg) -> dict:
    """The component's state observable: regulatory T cells."""
    return {"tregs": int(np.count_nonzero(state.sites["treg"]))}


def ratio(obs: dict) -> dict:
    """CD8/Treg ratio from the step's counts (T cells when there is no
    Treg), float64 on the host; ``obs`` values are scalars or arrays over runs."""
    return {"cd8_treg_ratio": np.asarray(obs["tcells"], dtype=np.float64)
            / np.maximum(np.asarray(obs["tregs"], dtype=np.float64), 1.0)}


def params(cfg, mp) -> dict:
    """Host values of the tregs component's ``Params`` fields (kernel units;
    gpusim.components.Component.params), and the depletion rate the
    therapy turns into ``p_treg_deplete`` each step."""
    tr = cfg.tregs
    n_moves, full_moves, p_partial = migration_moves(cfg.treg_moves())
    return dict(
        treg_on=int(tr.enabled),
        treg_recruit=saturating_table(tr.recruitment_rate_per_day if tr.enabled else 0.0,
                                      tr.recruitment_half_saturation, mp.chem_level_scale, mp.dt_days),
        treg_n_moves=n_moves if tr.enabled else 0,
        treg_full_moves=full_moves,
        p_treg_partial_move=p_partial,
        treg_chemotaxis=np.float32(tr.chemotaxis),
        p_treg_death=threshold(rate_probability(1.0 / tr.lifespan_days, mp.dt_days)),
        p_treg_pass=threshold(1.0 - tr.suppression),
        treg_depletion_rate_per_day=tr.depletion_rate_per_day,
    )
