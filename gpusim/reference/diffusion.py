"""A diffusing field's step in NumPy (twin of kernels/field.cu), for any
field :mod:`gpusim.components` declares: decay before the sources (a field
that says so), secretion by the cells of a layer, counts made by another
phase, first-order uptake by tumour cells, supply held at vessels (and the
faces of a closed lattice), explicit diffusion substeps, decay.  A term
whose rate is 0 is skipped, as in the kernels.  float32 throughout, in the
kernels' operation order, with their floor."""

from __future__ import annotations

import numpy as np

from ..components import COMPONENTS, field_index, field_value
from ..signals import poll
from .chemokine import chem_floor, diffuse
from .field import field_cell


def step(be, sp, events: dict, name: str) -> None:
    """The phase of diffusing field ``name`` on one reference run."""
    run_field(be.state, be.mp, name, be.stencil)


def _count(mp, layer: np.ndarray) -> np.ndarray:
    return np.bincount(field_cell(mp, np.flatnonzero(layer)), minlength=mp.n_field).astype(np.float32)


def _faces(mp) -> np.ndarray:
    """Field cells on a face of the coarse grid (field.cuh ``field_on_face``)."""
    fx, fy, fz = mp.field_shape
    b = np.arange(mp.n_field)
    x, y, z = b % fx, (b // fx) % fy, b // (fx * fy)
    face = (x == 0) | (x == fx - 1) | (y == 0) | (y == fy - 1)
    if mp.field_dim == 3:
        face |= (z == 0) | (z == fz - 1)
    return face


def run_field(st, mp, name: str, stencil) -> None:
    """One step of diffusing field ``name`` on state ``st`` (its value array
    updated in place, its counts cleared), from its record in ``mp``."""
    f = field_index(name)
    component = next(c for c in COMPONENTS if c.name == name)
    r, value = component.diffusing, st.extra[field_value(component)]
    st_rate, tc_rate, up_rate = mp.field_secrete_tumour[f], mp.field_secrete_tcell[f], mp.field_uptake_tumour[f]
    cells = _count(mp, st.sites["clone"]) if st_rate != 0 or up_rate != 0 else None
    v = value.copy()
    if mp.field_decay_before[f] != 1:
        v = chem_floor(v * mp.field_decay_before[f])
    if st_rate != 0 or tc_rate != 0 or mp.field_takes_counts[f]:
        src = chem_floor(st_rate * (cells if cells is not None else np.zeros(mp.n_field, np.float32)))
        if tc_rate != 0:
            src = src + chem_floor(tc_rate * _count(mp, st.sites["tcell"]))
        if mp.field_takes_counts[f]:
            counts = st.extra[r.counts[0]]
            src = src + chem_floor(mp.field_per_count[f] * counts.astype(np.float32))
            counts[:] = 0
        v = chem_floor(v + src)
    if up_rate != 0:
        v = chem_floor(v + chem_floor((mp.field_uptake_ref[f] - v) * (up_rate * cells)))
    held = None
    if mp.field_supply_vessels[f]:
        held = _count(mp, st.sites["vessel"]) > 0
        if mp.field_supply_faces[f] and not mp.periodic:
            held |= _faces(mp)
    supply = mp.field_supply_value[f]

    def hold(c):
        return c if held is None else np.where(held, supply, c).astype(np.float32)

    c = hold(v)
    for _ in range(mp.field_substeps[f]):
        c = hold(diffuse(c, mp.field_alpha[f], stencil))
        poll()
    if mp.field_substeps[f] or mp.field_decay[f] != 1:  # the kernels skip field_decay likewise
        c = hold(chem_floor(c * mp.field_decay[f]))
    value[:] = c
