"""Host side of the tumour rules on the kernel backends: the launch order
of ``kernels/tumour.cu`` and the compaction that numbers new clones."""

from __future__ import annotations

import numpy as np

from ..claim import NEW_CLONE


def death(be) -> None:
    be.launch("tumour_death", be.mp.n_sites)


def divide(be) -> np.ndarray:
    """Two-phase division and founding of new clones (claim[] is all ones
    on entry: every phase resets the entries it used).  Returns the number
    of new clones of each active run."""
    n = be.mp.n_sites
    xp = be.xp
    be.launch("tumour_divide_propose", n)
    be.launch("tumour_divide_commit", n)
    # Sites whose daughter mutated, in index order within each run: their
    # new clone ids are an exclusive prefix sum over the run's sites,
    # independent of how threads were scheduled and of the other runs.
    rows = be.active
    flat = xp.flatnonzero(be.active_view(be.claim).ravel() == NEW_CLONE)
    if flat.size == 0:
        return np.zeros(len(rows), dtype=np.int64)
    run = flat // n  # position among the active runs
    counts = xp.bincount(run, minlength=len(rows))
    rank = xp.arange(flat.size) - (xp.cumsum(counts) - counts)[run]
    k = be.device.to_host(counts).astype(np.int64)
    be.ensure_clone_capacity(int((be.n_clones[rows] + k).max()))
    be.ensure_new_sites(int(k.max()))
    be.new_sites[xp.asarray(rows)[run], rank] = (flat % n).astype(xp.uint32)
    be.set_params(rows, n_clones=be.n_clones[rows], n_new=k)
    be.launch("tumour_found_clones", int(k.max()))
    be.n_clones[rows] += k
    return k
