"""The two-phase claim protocol (DESIGN §3 rule 4) on the host: twin of
``kernels/claim.cuh``, used by the NumPy reference for tumour division,
T-cell expansion, migration and adoptive transfer, and by the kernel engine
to read adoptive-transfer bids.

A bid is ``priority << SOURCE_BITS | source``: the lowest bid on a target
wins, ties going to the lower source index; ``NO_BID`` (all ones) is an
entry nobody bid on.

>>> b = bid(np.array([7, 3, 3], np.uint32), np.array([0, 9, 4], np.uint32))
>>> winners(10, np.array([5, 5, 5]), b).tolist()
[False, False, True]
>>> source(b).tolist()
[0, 9, 4]
>>> lowest_sources(b, 2).tolist()
[4, 9]
"""

from __future__ import annotations

import numpy as np

from .abi import constants

SOURCE_BITS = constants()["CLAIM_SOURCE_BITS"]
NO_BID = np.uint64(constants()["NO_BID"])
_SOURCE_MASK = np.uint64((1 << SOURCE_BITS) - 1)


def bid(priority, source_index) -> np.ndarray:
    """uint64 bids of ``source_index`` with ``priority`` (a uint32 Philox word)."""
    return (np.asarray(priority).astype(np.uint64) << np.uint64(SOURCE_BITS)) | np.asarray(
        source_index).astype(np.uint64)


def source(bids):
    """The source index (uint32) a bid carries (NumPy or CuPy arrays)."""
    return (bids & _SOURCE_MASK).astype(np.uint32)


def winners(n_sites: int, targets: np.ndarray, bids: np.ndarray) -> np.ndarray:
    """Mask of the bids that are the lowest on their target site (the
    kernels' 64-bit atomicMin, as np.minimum.at)."""
    best = np.full(n_sites, NO_BID, dtype=np.uint64)
    np.minimum.at(best, targets, bids)
    return best[targets] == bids


def lowest_sources(bids, k: int):
    """Sources of the ``k`` lowest bids, lowest first, skipping ``NO_BID``
    entries (NumPy or CuPy arrays): adoptive transfer's choice of sites."""
    ranked = bids.copy()
    ranked.sort()
    ranked = ranked[:k]
    return source(ranked[ranked != NO_BID])
