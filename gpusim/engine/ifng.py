"""Host side of kernels/ifng.cu: the ifng phase's launches."""

from __future__ import annotations


def phase(be, bs, events: dict) -> None:
    """The field (per field cell), then the induced flags (per site)."""
    be.launch("ifng_field", be.mp.n_field)
    be.launch("ifng_induce", be.mp.n_sites)
