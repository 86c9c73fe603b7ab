"""Host side of kernels/initial.cu: the state at step 0 built on the device.

The host allocates the arrays and launches kernels; it touches no per-site
data (DESIGN §7).  The NumPy twin is :func:`gpusim.state.initial_state`;
tests/test_initial.py holds the two equal.
"""

from __future__ import annotations

from .. import abi
from ..state import FIELD_ARRAYS, SITE_ARRAYS, State, initial_clone_table, initial_params
from .select import lowest_bids

FOUNDERS = abi.constants()["SLOT_FOUNDERS"]


def empty_state(xp, mp) -> State:
    """Device arrays for a state at step 0, site arrays uninitialised (the
    initial_sites kernel writes every site)."""
    sites = {name: xp.empty(mp.n_sites, dtype=dt) for name, dt in SITE_ARRAYS.items()}
    extra = {name: xp.zeros(mp.n_field, dtype=dt) for name, dt in FIELD_ARRAYS.items()}
    return State(step=0, n_clones=2, sites=sites, clones={}, extra=extra)


def build(be) -> None:
    """Fill ``be.state`` (from :func:`empty_state`) and leave claim[] all ones."""
    ip = initial_params(be.cfg)
    be.refresh_fields()  # the clone table comes after the founders are counted
    be.device.fill_bytes(be.counters, 0)
    be.set_params(step=0, **abi.params_values(ip))
    be.launch("initial_sites", be.mp.n_sites)
    founders = int(be.device.to_host(be.counters[FOUNDERS : FOUNDERS + 1])[0])
    be.state.clones = {k: be.xp.asarray(v) for k, v in initial_clone_table(ip, founders).items()}
    be.refresh_fields()
    if ip.init_tcells:
        chosen = lowest_bids(be, ip.init_tcells)
        be.device.fill_bytes(be.claim, 0xFF)  # all ones again
        be.ensure_new_sites(chosen)
        be.set_params(n_new=len(chosen))
        be.launch("tcell_transfer_place", len(chosen))
