"""Host side of kernels/oxygen.cu: the oxygen field and necrosis launches."""

from __future__ import annotations

from ..signals import poll


def field(be, bs, events: dict) -> None:
    """Supply and uptake, diffusion substeps (ping-pong by parity; each run
    stops at its own count), the field back in place."""
    n = be.mp.n_field
    be.launch("oxygen_supply", n)
    for s in range(max(be.mps[b].o2_substeps for b in be.active)):
        be.launch("oxygen_diffuse", n, sub=s)
        poll()
    be.launch("oxygen_settle", n)


def necrosis(be, bs, events: dict) -> None:
    be.launch("tumour_necrosis", be.mp.n_sites)
