"""A diffusing field's step in NumPy (twin of kernels/field.cu), for any
field :mod:`gpusim.components` declares: secretion by the cells of a layer,
bursts where tumour cells were killed, explicit diffusion substeps, decay.
float32 throughout, in the kernels' operation order, with their floor."""

from __future__ import annotations

import numpy as np

from ..components import field_index
from ..signals import poll
from .chemokine import chem_floor, diffuse
from .field import field_cell


def step(be, sp, events: dict, name: str) -> None:
    """The phase of diffusing field ``name`` on one reference run."""
    run_field(be.state, be.mp, name, be.stencil)


def _count(mp, layer: np.ndarray) -> np.ndarray:
    return np.bincount(field_cell(mp, np.flatnonzero(layer)), minlength=mp.n_field).astype(np.float32)


def run_field(st, mp, name: str, stencil) -> None:
    f = field_index(name)
    value = st.extra[name]
    src = chem_floor(mp.field_secrete_tumour[f] * _count(mp, st.sites["clone"]))
    if mp.field_secrete_tcell[f] != 0:
        src = src + chem_floor(mp.field_secrete_tcell[f] * _count(mp, st.sites["tcell"]))
    if mp.field_takes_bursts[f]:
        bursts = st.extra["kill_bursts"]
        src = src + chem_floor(mp.field_burst[f] * bursts.astype(np.float32))
        bursts[:] = 0
    c = chem_floor(value + src)
    for _ in range(mp.field_substeps[f]):
        c = diffuse(c, mp.field_alpha[f], stencil)
        poll()
    value[:] = chem_floor(c * mp.field_decay[f])
