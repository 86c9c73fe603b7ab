"""Host side of kernels/initial.cu: the state at step 0 built on the device.

The host allocates the arrays and launches kernels; it touches no per-site
data (DESIGN §7).  The NumPy twin is :func:`gpusim.state.initial_state`;
tests/test_initial.py holds the two equal.  One launch builds every run of
a batch (each from its own seed and initial parameters).
"""

from __future__ import annotations

import numpy as np

from .. import abi
from ..state import initial_clone_table, initial_params
from .select import lowest_bids

FOUNDERS = abi.constants()["SLOT_FOUNDERS"]


def build(be) -> None:
    """Fill every run's state at step 0 (arrays allocated by
    :class:`~gpusim.engine.arrays.DeviceArrays`) and
    leave claim[] all ones."""
    be.refresh_fields()
    be.device.fill_bytes(be.counters, 0)
    be.set_fields(be.active, step=0)
    be.launch("initial_sites", be.mp.n_sites)
    founders = be.device.to_host(be.counters)[:, FOUNDERS]  # one contiguous transfer
    tables = [initial_clone_table(initial_params(cfg), int(f)) for cfg, f in zip(be.cfgs, founders)]
    for name, col in be.clones.items():
        be.device.upload(col, np.stack([t[name] for t in tables]))
    for b, cfg in enumerate(be.cfgs):
        k = initial_params(cfg).init_tcells
        if not k:
            continue
        chosen = lowest_bids(be, k, b)
        be.device.fill_bytes(be.claim[b], 0xFF)  # all ones again
        be.ensure_new_sites(len(chosen))
        be.device.upload(be.new_sites[b, : len(chosen)], chosen)
        be.set_fields([b], n_new=len(chosen))
        be.launch("tcell_transfer_place", len(chosen), rows=[b])
