"""Host side of kernels/tcell.cu: the launch order of the T-cell phases."""

from __future__ import annotations

import numpy as np

from ..signals import poll
from .select import lowest_bids


def recruit(be, transfers: dict[int, tuple]) -> None:
    """Recruitment at vessels, then the adoptive transfers due this step
    (``transfers``: run -> ((cells, where), ...))."""
    be.launch_vessels("tcell_recruit")
    for t in range(max((len(v) for v in transfers.values()), default=0)):
        _transfer(be, {b: v[t] for b, v in transfers.items() if len(v) > t})
    be.refresh_tiles()


def _transfer(be, due: dict[int, tuple[int, str]]) -> None:
    """One transfer in each run of ``due`` (run -> (cells, where)); only
    those runs take part in the launches."""
    rows = np.array(sorted(due))
    be.set_fields(rows, transfer_where_tumour=[int(due[b][1] == "tumour") for b in rows])
    be.launch("tcell_transfer_bid", be.mp.n_sites, rows=rows)
    chosen = {}
    for b in rows:
        # The `cells` lowest bids win; bids are unique (they end in the site index).
        chosen[b] = lowest_bids(be, due[b][0], b)
        be.device.fill_bytes(be.claim[b], 0xFF)  # restore the all-ones invariant (NO_BID)
    # Grow once for the widest run, then upload: growing replaces the buffer,
    # so an upload made before it would be lost (every site 0).
    counts = [len(c) for c in chosen.values()]
    be.ensure_new_sites(max(counts))
    for b, c in chosen.items():
        be.device.upload(be.new_sites[b, : len(c)], c)
    be.set_fields(rows, n_new=counts)
    be.launch("tcell_transfer_place", max(counts), rows=rows)


def kill(be) -> None:
    be.launch_sites("tcell_kill")
    be.launch_sites("tcell_expand_commit")
    be.refresh_tiles()


def migrate(be) -> None:
    # Each run makes its own number of moves; the loop covers the most.
    for s in range(max(be.mps[b].n_moves for b in be.active)):
        be.launch_sites("tcell_move_propose", sub=s)
        be.launch_sites("tcell_move_commit")
        be.refresh_tiles()
        poll()


def death(be) -> None:
    be.launch_sites("tcell_death")
