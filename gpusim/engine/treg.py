"""Host side of kernels/treg.cu: the launches of the regulatory T-cell phases."""

from __future__ import annotations

from ..signals import poll


def recruit(be, bs, events: dict) -> None:
    be.launch("treg_recruit", be.mp.n_sites)


def migrate(be, bs, events: dict) -> None:
    # Each run makes its own number of moves; the loop covers the most.
    for s in range(max(be.mps[b].treg_n_moves for b in be.active)):
        be.launch("treg_move_propose", be.mp.n_sites, sub=s)
        be.launch("treg_move_commit", be.mp.n_sites)
        poll()


def death(be, bs, events: dict) -> None:
    be.launch("treg_death", be.mp.n_sites)
