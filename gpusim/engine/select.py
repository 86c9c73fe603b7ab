"""Host side of kernels/select.cu: the k lowest bids of ``claim[]`` without
sorting every site.

A bound B admits the bids below it; B starts where about 2k + 64 of n
uniform priorities would fall (every site a bidder) and grows eightfold
while fewer than k bids pass (fewer sites bid).  The bids below B are few,
so the host sorts them and keeps the first k: the same k as a full sort,
since every bid lower than the k-th is below B.
"""

from __future__ import annotations

import numpy as np

from .. import abi
from ..claim import NO_BID, SOURCE_BITS, source

SLOT = abi.constants()["SLOT_SELECTED"]
ALL = int(NO_BID)  # no bound: every real bid (never NO_BID itself)


def lowest_bids(be, k: int, row: int) -> np.ndarray:
    """Site indices (uint32, in bid order) of the k lowest bids in run
    ``row``'s ``be.claim`` (fewer if fewer sites bid); the launches cover
    that run only.  claim[] is left as it is."""
    if k <= 0:
        return np.zeros(0, dtype=np.uint32)
    n = be.mp.n_sites
    span = 2 ** (64 - SOURCE_BITS)  # priorities are the bids' high bits
    top = (2 * k + 64) * span // n + 1  # priority bound
    be.ensure_selected(min(n, 4 * k + 256))  # room for what the first bound admits, almost surely
    while True:
        below = ALL if top >= span else top << SOURCE_BITS
        count = _count_below(be, row, below, be.selected.shape[1])
        if count > be.selected.shape[1]:  # too many for the buffer: make room, same bound
            be.ensure_selected(count)
            count = _count_below(be, row, below, count)
        if count >= k or below == ALL:
            break
        top *= 8
    return source(np.sort(be.device.to_host(be.selected[row, :count]))[:k])


def _count_below(be, row: int, below: int, capacity: int) -> int:
    be.device.fill_bytes(be.counters[row, SLOT : SLOT + 1], 0)
    be.set_fields([row], select_below=below, select_capacity=capacity)
    be.launch("select_below", be.mp.n_sites, rows=[row])
    return int(be.device.to_host(be.counters[row, SLOT : SLOT + 1])[0])
