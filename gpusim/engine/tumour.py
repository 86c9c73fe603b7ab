"""Host side of the tumour rules on the kernel backends: the launch order
of ``kernels/tumour.cu`` and the compaction that numbers new clones."""

from __future__ import annotations

import numpy as np

from .. import abi

_C = abi.constants()
NEW_CLONES, CHUNK_SHIFT, GROUP_SHIFT = _C["SLOT_NEW_CLONES"], _C["FOUND_CHUNK_SHIFT"], _C["FOUND_GROUP_SHIFT"]


def death(be) -> None:
    be.launch_sites("tumour_death")


def divide(be) -> np.ndarray:
    """Two-phase division and founding of new clones (claim[] is all ones
    on entry: every phase resets the entries it used).  Returns the number
    of new clones of each active run."""
    n = be.mp.n_sites
    be.launch_sites("tumour_divide_propose")
    be.launch_sites("tumour_divide_commit")  # also counts the mutant daughters of each chunk of sites
    be.refresh_tiles()  # daughters may land in tiles that held nothing
    # New clone ids are an exclusive prefix sum over each run's sites, in
    # site order, independent of how threads were scheduled and of the
    # other runs (kernels/tumour.cu).
    n_chunks, n_groups = found_chunks(n)
    be.launch("found_sum_groups", n_groups)
    be.launch("found_scan_groups", 1)
    be.launch("found_scan_chunks", n_groups)
    # The step's one read inside it: how many clones each run makes room for.
    rows = be.active
    k = be.counts()[:, NEW_CLONES]
    if k.any():
        be.ensure_clone_capacity(int((be.n_clones[rows] + k).max()))
        be.set_fields(rows, n_clones=be.n_clones[rows], n_new=k)
        be.launch("tumour_found_clones", n_chunks)
        be.device.fill_bytes(be.found_chunks, 0)  # counts of the next step start at 0
        be.n_clones[rows] += k
    return k


def found_chunks(n_sites: int) -> tuple[int, int]:
    """(chunks, groups of chunks) of the founding scan (kernels/tumour.cu)."""
    chunks = -(-n_sites >> CHUNK_SHIFT)
    return chunks, -(-chunks >> GROUP_SHIFT)


def found_chunk_count(n_sites: int) -> int:
    """Width of the found_chunks scratch (gpusim.components)."""
    return found_chunks(n_sites)[0]


def found_group_count(n_sites: int) -> int:
    """Width of the found_groups scratch (gpusim.components)."""
    return found_chunks(n_sites)[1]
