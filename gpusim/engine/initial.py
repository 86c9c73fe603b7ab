"""Host side of kernels/initial.cu: the state at step 0 built on the device.

The host allocates the arrays and launches kernels; it touches no per-site
data (DESIGN §7).  The NumPy twin is :func:`gpusim.state.initial_state`;
tests/test_initial.py holds the two equal.  One launch builds every run of
a batch (each from its own seed and initial parameters).
"""

from __future__ import annotations

import numpy as np

from .. import abi
from ..components import field_arrays, site_arrays
from ..state import CLONE_COLUMNS, initial_clone_table, initial_params
from .select import lowest_bids

FOUNDERS = abi.constants()["SLOT_FOUNDERS"]
#: The site arrays initial_sites writes at every site; the other components'
#: site arrays start zero (their cells are absent at step 0).
BUILT = ("clone", "cell", "tcell", "vessel")


def allocate(be) -> None:
    """Device arrays for every run's state: the site arrays of :data:`BUILT`
    uninitialised (the initial_sites kernel, or a loaded state, writes every
    site), the rest, fields and clone columns zero."""
    xp, mp, runs = be.xp, be.mp, be.n_runs
    be.sites = {name: (xp.empty if name in BUILT else xp.zeros)((runs, mp.n_sites), dtype=dt)
                for name, dt in site_arrays(be.cfg).items()}
    be.extra = {name: xp.zeros((runs, mp.n_field), dtype=dt) for name, dt in field_arrays(be.cfg).items()}
    be.clones = {name: xp.zeros((runs, 16), dtype=dt) for name, dt in CLONE_COLUMNS.items()}


def build(be) -> None:
    """Fill every run's state at step 0 (arrays from :func:`allocate`) and
    leave claim[] all ones."""
    be.refresh_fields()
    be.device.fill_bytes(be.counters, 0)
    be.set_params(be.active, step=0)
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
        be.set_params([b], n_new=len(chosen))
        be.launch("tcell_transfer_place", len(chosen), rows=[b])
