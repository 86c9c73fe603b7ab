"""Host side of kernels/chemokine.cu: secretion, diffusion substeps, decay."""

from __future__ import annotations

from ..signals import poll


def run_step(be) -> None:
    n = be.mp.n_field
    be.launch("chemokine_secrete", n)
    for s in range(be.mp.chem_substeps):
        be.set_params(chem_parity=s % 2)  # ping-pong: chemokine <-> scratch
        be.launch("chemokine_diffuse", n)
        poll()
    be.set_params(chem_parity=be.mp.chem_substeps % 2)  # where the last substep wrote
    be.launch("chemokine_decay", n)
