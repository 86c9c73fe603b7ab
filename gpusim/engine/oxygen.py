"""Host side of kernels/oxygen.cu: the necrosis launch (the field is a diffusing
field: gpusim.engine.field)."""

from __future__ import annotations


def necrosis(be, bs, events: dict) -> None:
    be.launch("tumour_necrosis", be.mp.n_sites)
