"""Regulatory T cells in NumPy (twin of kernels/treg.cu): their phases --
recruitment at vessels, chemotactic moves, death (lifespan, anti-CTLA-4
depletion, chemotherapy) -- are gpusim/reference/agent.py's; here their
observables.  Their suppression of CD8 killing is applied in
:func:`gpusim.reference.tcell.kill`."""

from __future__ import annotations

import numpy as np

from ..params import agent_params


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
    return agent_params(cfg.tregs, "treg", cfg.treg_moves(), mp.chem_level_scale, mp.dt_days)
