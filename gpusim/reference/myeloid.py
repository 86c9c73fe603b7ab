"""Myeloid suppressor cells in NumPy (twin of kernels/myeloid.cu): their
phases -- recruitment at vessels drawn by CCL2, moves up CCL2, death
(lifespan, CSF1R inhibition, chemotherapy) -- are gpusim/reference/agent.py's;
here their observable.  Their effects on CD8 T cells (kill and expansion
suppressed, entry at a vessel blocked, moves held) are applied in
gpusim/reference/tcell.py."""

from __future__ import annotations

import numpy as np

from ..params import agent_params, threshold


def observe(state, cfg) -> dict:
    """The component's state observable: myeloid suppressor cells."""
    return {"myeloid_cells": int(np.count_nonzero(state.sites["myeloid"]))}


def params(cfg, mp) -> dict:
    """Host values of the myeloid component's ``Params`` fields (kernel
    units; gpusim.components.Component.params): the cell kind's
    (gpusim.params.agent_params), the CCL2 field's index, and the
    thresholds of its effects on CD8 T cells (held beside one, entry blocked
    at a vessel beside one)."""
    from ..components import field_index

    my = cfg.myeloid
    return dict(**agent_params(my, "myeloid", cfg.myeloid_moves(), mp.chem_level_scale, mp.dt_days),
                myeloid_field=field_index("ccl2"), p_myeloid_hold=threshold(my.tcell_hold),
                p_myeloid_block=threshold(my.vessel_block))
