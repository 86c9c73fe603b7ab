"""Host side of kernels/chemokine.cu: secretion, diffusion substeps, decay."""

from __future__ import annotations

from ..signals import poll


def run_step(be) -> None:
    n = be.mp.n_field
    be.launch("chemokine_secrete", n)
    # Ping-pong by the parity of s: chemokine <-> scratch.  Runs of a batch
    # may need different substep counts (diffusion coefficient): the loop
    # covers the most, each run stops at its own (and decays from where its
    # last substep wrote).
    for s in range(max(be.mps[b].chem_substeps for b in be.active)):
        be.launch("chemokine_diffuse", n, sub=s)
        poll()
    be.launch("chemokine_decay", n)
