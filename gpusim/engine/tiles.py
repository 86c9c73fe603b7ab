"""Active tiles on the kernel backends (kernels/tiles.cuh, kernels/tiles.cu):
per-site phases visit only the tiles that hold cells.

The lattice is cut into tiles of 64 sites: 4 x 4 x 4 in 3D, 8 x 8 in 2D.
64 because the cost that tiles save is per site visited, so the tile should
be small enough that a sparse population (T cells patrolling a big box)
leaves most tiles empty -- at the end of a day of a radius-20 tumour with
T cells in a 256^3 box, 4.8 % of 4^3 tiles hold a cell but 29 % of 8^3
tiles (issue 20's measurement) -- and large enough that the list and its
build stay small (1/64 of the sites) and a GPU block of 256 threads holds
whole tiles (4 of them).  Powers of two per axis make a thread's site a
few shifts and masks.

Each run keeps its own list on the device, rebuilt by kernels (no host
round trip) by a prefix sum over per-tile flags, so the list is in tile
order whatever the thread schedule; :func:`refresh` runs the build after
each phase that can put a cell in a new tile (recruitment and transfer,
expansion, division, each T-cell move), and returns at once on the device
when no flag changed.  :func:`sweep` drops the tiles that emptied, once a
step.  Which arrays make a tile active comes from the components
(:func:`gpusim.components.occupancy`).

``simulation.active_tiles = false`` keeps dense stepping (one thread per
site) for comparison; the NumPy reference is always dense.  Results are
the same bit for bit either way (tests/test_tiles.py).

>>> geometry((256, 256, 256), 3)
{'tile_bits_x': 2, 'tile_bits_y': 2, 'tnx': 64, 'tny': 64, 'tnz': 64, 'n_tiles': 262144}
>>> geometry((100, 30, 1), 2)["n_tiles"]   # 13 x 4 tiles of 8 x 8, the last ones partial
52
"""

from __future__ import annotations

import numpy as np

from .. import abi, components

_C = abi.constants()
TILE_BITS, CHUNK_SHIFT, GROUP_SHIFT = _C["TILE_BITS"], _C["TILE_CHUNK_SHIFT"], _C["TILE_GROUP_SHIFT"]
TILE_SITES = 1 << TILE_BITS
COUNT, DIRTY, VESSELS = _C["TILE_COUNT"], _C["TILE_DIRTY"], _C["TILE_VESSELS"]
MAX_OCCUPANCY = _C["MAX_OCCUPANCY"]

def geometry(shape: tuple[int, int, int], dim: int) -> dict[str, int]:
    """Tile bits along x and y and the tiles along each axis (``Params`` fields)."""
    bx, by = (2, 2) if dim == 3 else (3, 3)
    bz = TILE_BITS - bx - by
    tnx, tny, tnz = (-(-n >> b) for n, b in zip(shape, (bx, by, bz)))
    return {"tile_bits_x": bx, "tile_bits_y": by, "tnx": tnx, "tny": tny, "tnz": tnz, "n_tiles": tnx * tny * tnz}


def _chunks(n_tiles: int) -> tuple[int, int]:
    chunks = -(-n_tiles >> CHUNK_SHIFT)
    return chunks, -(-chunks >> GROUP_SHIFT)


def setup(be) -> None:
    """Allocate the tile arrays of every run of ``be`` (scratch of its
    DeviceArrays) and fill the tile fields of their Params, when the batch
    steps by tiles."""
    be.tiles_on = bool(be.cfg.simulation.active_tiles)
    if not be.tiles_on:
        return
    geo = geometry(be.mp.shape, be.mp.field_dim)
    be.n_tiles = geo["n_tiles"]
    chunks, groups = _chunks(be.n_tiles)
    xp, B = be.xp, be.n_runs
    widths = {"tile_flags": (xp.uint8, be.n_tiles), "tile_list": (xp.uint32, be.n_tiles),
              "tile_span": (xp.uint32, be.n_tiles), "tile_chunks": (xp.uint32, chunks),
              "tile_groups": (xp.uint32, groups), "tile_state": (xp.uint32, _C["TILE_STATE"])}
    be.arrays.scratch.update({name: xp.zeros((B, n), dtype=dt) for name, (dt, n) in widths.items()})
    occupancy = components.occupancy(be.cfg)
    if len(occupancy) > MAX_OCCUPANCY:
        raise ValueError(f"at most {MAX_OCCUPANCY} occupancy arrays (kernels/abi.cuh), not {len(occupancy)}")
    be.arrays.pointer_lists["occupancy"] = occupancy
    sizes = [be.sites[name].dtype.itemsize for name in occupancy]
    # A lattice with most tiles active steps every site (tiles.cuh phase_site): from 7/8 of the tiles on.
    be.set_fields(np.arange(B), tiles_on=1, occupancy_bytes=[sizes + [0] * (MAX_OCCUPANCY - len(sizes))] * B,
                  tiles_dense_from=geo["n_tiles"] - geo["n_tiles"] // 8, **geo)
    be.vessel_capacity = None


def launch_sites(be, kernel: str, sub: int = 0) -> None:
    """A per-site phase kernel over the active tiles of every active run
    (64 threads per list entry), or over every site with tiles off."""
    if be.tiles_on:
        params, fields = be.buffers()
        be.device.launch_tiles(kernel, TILE_SITES, COUNT, be.n_tiles, params, fields, sub, len(be.active))
    else:
        be.launch(kernel, be.mp.n_sites, sub=sub)


def refresh(be, rows=None) -> None:
    """Rebuild each active run's (or ``rows``') list from its tile flags
    (kernels/tiles.cu); a run whose flags did not change since its last
    build keeps its list."""
    if not be.tiles_on:
        return
    # Where the flags can be read without waiting (the cpu backend's host
    # memory): no launches at all when no run switched a tile on -- five
    # launches that would each return at once, after each phase that may
    # place a cell, cost more host time than a small lattice's whole phase.
    state = be.device.host_view(be.tile_state)
    if state is not None and not state[be.active if rows is None else rows, DIRTY].any():
        return
    chunks, groups = _chunks(be.n_tiles)
    for kernel, n in (("tiles_count_chunks", chunks), ("tiles_sum_groups", groups), ("tiles_scan_top", 1),
                      ("tiles_scan_chunks", groups), ("tiles_scatter", chunks)):
        be.launch(kernel, n, rows=rows)


def mark_all(be) -> None:
    """Every run's flags and list from its state (after a state is built,
    loaded or restored): one pass over every site."""
    if not be.tiles_on:
        return
    rows = np.arange(be.n_runs)
    be.launch("tiles_mark_all", be.n_tiles, rows=rows)
    refresh(be, rows)
    if be.vessel_capacity is None and "vessel" in be.sites:
        list_vessels(be)


def launch_entries(be, kernel: str) -> None:
    """A kernel with one thread per entry of each active run's list."""
    params, fields = be.buffers()
    be.device.launch_tiles(kernel, 1, COUNT, be.n_tiles, params, fields, 0, len(be.active))


def launch_vessels(be, kernel: str) -> None:
    """tcell_recruit over each active run's vessel list (tiles on), or every site."""
    if be.tiles_on:
        if be.vessel_capacity:  # none: nothing to recruit at
            params, fields = be.buffers()
            be.device.launch_tiles(kernel, 1, VESSELS, be.vessel_capacity, params, fields, 0, len(be.active))
    else:
        be.launch(kernel, be.mp.n_sites)


def list_vessels(be) -> None:
    """Each run's vessel sites, in site order (kernels/tiles.cu), once: the
    list's length is read back to size it (a start-up transfer, not a step's)."""
    rows = np.arange(be.n_runs)
    chunks = -(-be.mp.n_sites >> _C["VESSEL_CHUNK_SHIFT"])
    be.arrays.scratch["vessel_chunks"] = be.xp.zeros((be.n_runs, chunks), dtype=be.xp.uint32)
    be.arrays.scratch["vessel_list"] = be.xp.zeros((be.n_runs, 1), dtype=be.xp.uint32)
    be.refresh_fields()
    be.launch("vessels_count", chunks, rows=rows)
    be.launch("vessels_scan", 1, rows=rows)
    be.vessel_capacity = int(be.device.to_host(be.tile_state)[:, VESSELS].max())
    be.arrays.scratch["vessel_list"] = be.xp.zeros((be.n_runs, max(be.vessel_capacity, 1)), dtype=be.xp.uint32)
    be.refresh_fields()
    be.launch("vessels_scatter", chunks, rows=rows)
    be.set_fields(rows, vessels_listed=1)


def sweep(be) -> None:
    """End of step: tiles that hold nothing any more leave each active run's list."""
    if not be.tiles_on:
        return
    launch_entries(be, "tiles_sweep")
    refresh(be)


def active_fraction(be) -> np.ndarray:
    """Each active run's active tiles / all tiles (1.0 with tiles off): one small transfer."""
    if not be.tiles_on:
        return np.ones(len(be.active))
    return be.device.to_host(be.tile_state)[be.active, COUNT] / be.n_tiles
