"""kernels/select.cu + gpusim/engine/select.py: the k lowest bids of claim[]
without a full sort are exactly the k lowest a full sort gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from gpusim.engine.backend import KernelBackend
from gpusim.engine.device import CpuDevice
from gpusim.engine.select import lowest_bids

NO_BID = np.uint64(0xFFFFFFFFFFFFFFFF)


@pytest.fixture(scope="module")
def backend():
    return KernelBackend(CpuDevice(), make_config(lattice={"shape": [128, 96]}, immune={"enabled": False}))


@pytest.mark.parametrize("k,bidders,priorities", [
    (1, 1.0, "uniform"), (37, 1.0, "uniform"), (500, 0.01, "uniform"),  # few bidders: the bound must grow
    (200, 0.5, "low"),  # priorities crowded at the bottom: too many below the first bound
    (5000, 0.3, "uniform"),  # more wanted than bid: every bidder
    (64, 1.0, "ties"),  # equal priorities: ordered by site index
])
def test_lowest_bids_equal_a_full_sort(backend, k, bidders, priorities):
    rng = np.random.default_rng(k)
    n = backend.mp.n_sites
    sites = np.arange(n, dtype=np.uint64)
    if priorities == "uniform":
        prio = rng.integers(0, 2**32, n, dtype=np.uint64)
    elif priorities == "low":
        prio = rng.integers(0, 2**12, n, dtype=np.uint64)
    else:
        prio = np.full(n, 12345, dtype=np.uint64)
    bids = np.where(rng.random(n) < bidders, (prio << np.uint64(32)) | sites, NO_BID)
    backend.claim[0] = bids  # run 0 of a batch of one
    got = lowest_bids(backend, k, 0)
    want = (np.sort(bids)[:k])
    want = (want[want != NO_BID] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(backend.claim[0], bids)  # left as it was
