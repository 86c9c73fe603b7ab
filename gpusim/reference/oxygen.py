"""Oxygen and hypoxia in NumPy (twin of kernels/oxygen.cu; the field holds
the deficit below the vascular supply, mmHg, so zero is oxygenated): supply at
vessels (and the faces of a closed lattice with ``boundary_supply``),
uptake by tumour cells, explicit diffusion on the chemokine's grid,
necrosis of anoxic tumour cells.  Hypoxia's effects on division and
killing are applied in :func:`gpusim.reference.tumour.divide` and
:func:`gpusim.reference.tcell.kill`."""

from __future__ import annotations

import math

import numpy as np

from ..abi import constants
from ..config import MINUTES_PER_DAY
from ..params import rate_probability, threshold
from ..rng import draw
from ..signals import poll
from .chemokine import chem_floor, diffuse
from .field import field_cell

PH_NECROSIS = constants()["PHASE_NECROSIS"]


def _faces(mp) -> np.ndarray:
    fx, fy, fz = mp.field_shape
    b = np.arange(mp.n_field)
    x, y, z = b % fx, (b // fx) % fy, b // (fx * fy)
    face = (x == 0) | (x == fx - 1) | (y == 0) | (y == fy - 1)
    if mp.field_dim == 3:
        face |= (z == 0) | (z == fz - 1)
    return face


def field(be, sp, events: dict) -> None:
    st, mp = be.state, be.mp
    deficit = st.extra["oxygen_deficit"]
    cells = np.bincount(field_cell(mp, np.flatnonzero(st.sites["clone"])), minlength=mp.n_field)
    vessels = np.bincount(field_cell(mp, np.flatnonzero(st.sites["vessel"])), minlength=mp.n_field)
    source = vessels > 0
    if mp.o2_boundary_supply and not mp.periodic:
        source |= _faces(mp)
    taken = chem_floor((mp.o2_supply - deficit) * (mp.o2_uptake * cells.astype(np.float32)))
    c = np.where(source, np.float32(0), chem_floor(deficit + taken)).astype(np.float32)
    for _ in range(mp.o2_substeps):  # sources held at the supply (deficit 0) through every substep
        c = np.where(source, np.float32(0), diffuse(c, mp.o2_alpha, be.stencil))
        poll()
    deficit[:] = c


def necrosis(be, sp, events: dict) -> None:
    st, mp = be.state, be.mp
    clone, necrotic = st.sites["clone"], st.sites["necrotic"]
    occupied = np.flatnonzero(clone)
    anoxic = occupied[st.extra["oxygen_deficit"][field_cell(mp, occupied)] > mp.o2_anoxic_deficit]
    dying = anoxic[draw(anoxic, st.step, PH_NECROSIS, 0, mp.key)[:, 0] < mp.p_necrosis]
    necrotic[occupied] = 0
    pop = st.clones["population"]
    pop -= np.bincount(clone[dying], minlength=len(pop))[: len(pop)].astype(np.uint32)
    clone[dying] = 0
    st.sites["cell"][dying] = 0
    necrotic[dying] = 1
    events["deaths"] += len(dying)
    events["necroses"] = len(dying)


_PARAMS: dict = {}


def _params(cfg):
    from ..params import model_params

    key = cfg.model_dump_json()
    if key not in _PARAMS:
        _PARAMS.clear()  # one config at a time in practice: keep the cache small
        _PARAMS[key] = model_params(cfg)
    return _PARAMS[key]


def observe(state, cfg) -> dict:
    """Hypoxic tumour cells and necrotic sites (no tumour cell) of ``state``."""
    mp = _params(cfg)
    clone = state.sites["clone"]
    occupied = np.flatnonzero(clone)
    hypoxic = state.extra["oxygen_deficit"][field_cell(mp, occupied)] > mp.o2_hypoxic_deficit
    return {"hypoxic_cells": int(np.count_nonzero(hypoxic)),
            "necrotic_sites": int(np.count_nonzero((clone == 0) & (state.sites["necrotic"] != 0)))}


def hypoxic_deficit(ox) -> np.float32:
    """The oxygen deficit (supply - oxygen, mmHg, float32 as the field) above
    which a tumour cell is hypoxic: the kernels' threshold, and
    ``gpusim analyse``'s (``hypoxic_fraction``) on the stored frames.

    >>> from gpusim.config import OxygenConfig
    >>> float(hypoxic_deficit(OxygenConfig(supply_mmHg=38.0, hypoxia_mmHg=15.0)))
    23.0
    """
    return np.float32(ox.supply_mmHg - ox.hypoxia_mmHg)


def params(cfg, mp) -> dict:
    """Host values of the oxygen component's ``Params`` fields (kernel
    units; gpusim.components.Component.params)."""
    ox = cfg.oxygen
    substeps, alpha = cfg.oxygen_substeps()
    return dict(
        o2_on=int(ox.enabled),
        o2_substeps=substeps if ox.enabled else 0,
        o2_alpha=np.float32(alpha),
        # each tumour cell takes up its site's share of the field cell, first order over the step
        o2_uptake=np.float32(-math.expm1(-ox.uptake_per_cell_per_min * mp.dt_days * MINUTES_PER_DAY)
                             / mp.block_sites),
        o2_supply=np.float32(ox.supply_mmHg),
        o2_boundary_supply=int(ox.boundary_supply),
        o2_hypoxic_deficit=hypoxic_deficit(ox),
        o2_anoxic_deficit=np.float32(ox.supply_mmHg - ox.anoxia_mmHg),
        p_necrosis=threshold(rate_probability(ox.necrosis_rate_per_day, mp.dt_days)),
        p_hypoxic_kill_pass=threshold(1.0 - ox.hypoxic_kill_suppression),
    )
