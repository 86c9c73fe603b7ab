"""Host side of kernels/agent.cuh: the launches of a cell kind's phases
(gpusim.components.agent_component: the Tregs, the myeloid suppressors),
by the kind's layer name, which prefixes its kernels and Params fields."""

from __future__ import annotations

from ..signals import poll


def recruit(be, bs, events: dict, layer: str, field: str, event: str) -> None:
    be.launch(f"{layer}_recruit", be.mp.n_sites)


def migrate(be, bs, events: dict, layer: str, field: str) -> None:
    # Each run makes its own number of moves; the loop covers the most.
    for s in range(max(getattr(be.mps[b], f"{layer}_n_moves") for b in be.active)):
        be.launch(f"{layer}_move_propose", be.mp.n_sites, sub=s)
        be.launch(f"{layer}_move_commit", be.mp.n_sites)
        poll()


def death(be, bs, events: dict, layer: str, event: str) -> None:
    be.launch(f"{layer}_death", be.mp.n_sites)
