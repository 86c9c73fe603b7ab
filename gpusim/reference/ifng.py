"""IFN-gamma and adaptive PD-L1 in NumPy (twin of kernels/ifng.cu): the
field T cells release where they engage tumour cells they recognise
(counted in :func:`gpusim.reference.tcell.kill`), its decay, and the
per-cell PD-L1 it induces.  float32 with the kernels' operation order and
the chemokine's floor."""

from __future__ import annotations

import math

import numpy as np

from ..abi import constants
from ..params import rate_probability, threshold
from ..rng import draw
from .chemokine import chem_floor
from .field import field_cell

PH_PDL1_LOSS = constants()["PHASE_PDL1_LOSS"]


def phase(be, sp, events: dict) -> None:
    """The ifng phase of one run: the field, then the induced flags."""
    st, mp = be.state, be.mp
    ifng, sources = st.extra["ifng"], st.extra["ifng_sources"]
    kept = chem_floor(ifng * mp.ifng_decay)
    src = chem_floor(mp.ifng_secretion * sources.astype(np.float32))
    ifng[:] = chem_floor(kept + src)
    sources[:] = 0
    induced = st.sites["pdl1_induced"]
    occupied = np.flatnonzero(st.sites["clone"])
    was = induced[occupied] != 0
    exposed = ifng[field_cell(mp, occupied)] >= mp.ifng_threshold
    unexposed = occupied[was & ~exposed]
    lost = unexposed[draw(unexposed, st.step, PH_PDL1_LOSS, 0, mp.key)[:, 0] < mp.p_pdl1_loss]
    induced[:] = 0
    induced[occupied[exposed | was]] = 1
    induced[lost] = 0


def observe(state, cfg) -> dict:
    """The component's state observable: tumour cells with induced PD-L1."""
    on = (state.sites["clone"] != 0) & (state.sites["pdl1_induced"] != 0)
    return {"induced_pdl1_cells": int(np.count_nonzero(on))}


def params(cfg, mp) -> dict:
    """Host values of the ifng component's ``Params`` fields (kernel units;
    gpusim.components.Component.params): concentrations per site volume,
    factors and thresholds per step."""
    ifng = cfg.ifng
    return dict(
        ifng_on=int(ifng.enabled),
        ifng_secretion=np.float32(ifng.secretion_per_engagement / mp.block_sites),
        ifng_decay=np.float32(math.exp(-ifng.decay_per_min * cfg.simulation.dt_minutes)),
        ifng_threshold=np.float32(ifng.induction_threshold),
        p_pdl1_loss=threshold(rate_probability(ifng.loss_rate_per_day, mp.dt_days)),
    )
