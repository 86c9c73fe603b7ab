"""Host side of kernels/field.cu: one diffusing field's step (sources,
uptake, supply, diffusion substeps, decay), for any field
:mod:`gpusim.components` declares."""

from __future__ import annotations

from ..components import field_index
from ..signals import poll


def step(be, bs, events: dict, name: str) -> None:
    """The phase of diffusing field ``name`` over every active run."""
    f = field_index(name)
    n = be.mp.n_field
    be.launch("field_secrete", n, sub=f)
    # Ping-pong by the parity of s: value <-> scratch.  Runs of a batch may
    # need different substep counts (diffusion coefficient): the loop covers
    # the most, each run stops at its own (and decays from where its last
    # substep wrote).
    substeps = max(be.mps[b].field_substeps[f] for b in be.active)
    for s in range(substeps):
        be.launch("field_diffuse", n, sub=f | s << 8)
        poll()
    # Nothing to do after the sources where no run diffuses and no run
    # decays after them (IFN-gamma decays before its sources).
    if substeps or any(be.mps[b].field_decay[f] != 1 for b in be.active):
        be.launch("field_decay", n, sub=f)
