"""Host side of kernels/chemokine.cu: secretion, diffusion substeps, decay."""

from __future__ import annotations

from ..signals import poll


def run_step(be) -> None:
    n = be.mp.n_field
    be.launch("chemokine_secrete", n)
    for s in range(be.mp.chem_substeps):  # ping-pong by the parity of s: chemokine <-> scratch
        be.launch("chemokine_diffuse", n, sub=s)
        poll()
    be.launch("chemokine_decay", n, sub=be.mp.chem_substeps)  # its parity: where the last substep wrote
