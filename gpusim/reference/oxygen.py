"""Oxygen and hypoxia in NumPy (twin of kernels/oxygen.cu): necrosis of
anoxic tumour cells, the hypoxia observables.  The field (the deficit below
the vascular supply, mmHg, so zero is oxygenated: supply at vessels and the
faces of a closed lattice with ``boundary_supply``, uptake by tumour cells,
explicit diffusion on the chemokine's grid) is a diffusing field,
:mod:`gpusim.reference.diffusion`.  Hypoxia's effects on division and
killing are applied in :func:`gpusim.reference.tumour.divide` and
:func:`gpusim.reference.tcell.kill`."""

from __future__ import annotations


import numpy as np

from ..abi import constants
from ..params import rate_probability, threshold
from ..rng import draw
from .field import field_cell

PH_NECROSIS = constants()["PHASE_NECROSIS"]


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
    units; gpusim.components.Component.params; the field's own record is
    generic, gpusim.params.field_records)."""
    ox = cfg.oxygen
    return dict(
        o2_on=int(ox.enabled),
        o2_hypoxic_deficit=hypoxic_deficit(ox),
        o2_anoxic_deficit=np.float32(ox.supply_mmHg - ox.anoxia_mmHg),
        p_necrosis=threshold(rate_probability(ox.necrosis_rate_per_day, mp.dt_days)),
        p_hypoxic_kill_pass=threshold(1.0 - ox.hypoxic_kill_suppression),
    )
