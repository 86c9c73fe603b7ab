"""Host side of kernels/ifng.cu: the ifng_induce phase's launch."""

from __future__ import annotations


def induce(be, bs, events: dict) -> None:
    """The induced flags (per site), after the field's phase (gpusim.engine.field)."""
    be.launch("ifng_induce", be.mp.n_sites)
