"""Host side of kernels/tcell.cu: the launch order of the T-cell phases."""

from __future__ import annotations

from ..signals import poll
from .select import lowest_bids


def recruit(be, sp) -> None:
    """Recruitment at vessels, then any adoptive transfer due this step."""
    be.launch("tcell_recruit", be.mp.n_sites)
    for cells, where in sp.transfers:
        _transfer(be, cells, where)


def _transfer(be, cells: int, where: str) -> None:
    be.set_params(transfer_where_tumour=int(where == "tumour"))
    be.launch("tcell_transfer_bid", be.mp.n_sites)
    # The `cells` lowest bids win; bids are unique (they end in the site index).
    chosen = lowest_bids(be, cells)
    be.device.fill_bytes(be.claim, 0xFF)  # restore the all-ones invariant (NO_BID)
    if chosen.size:
        be.ensure_new_sites(chosen)
        be.set_params(n_new=int(chosen.size))
        be.launch("tcell_transfer_place", int(chosen.size))


def kill(be) -> None:
    be.launch("tcell_kill", be.mp.n_sites)
    be.launch("tcell_expand_commit", be.mp.n_sites)


def migrate(be) -> None:
    for s in range(be.mp.n_moves):
        be.launch("tcell_move_propose", be.mp.n_sites, sub=s)
        be.launch("tcell_move_commit", be.mp.n_sites)
        poll()


def death(be) -> None:
    be.launch("tcell_death", be.mp.n_sites)
