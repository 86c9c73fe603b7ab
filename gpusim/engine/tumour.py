"""Host side of the tumour rules on the kernel backends: the launch order
of ``kernels/tumour.cu`` and the compaction that numbers new clones."""

from __future__ import annotations

from ..claim import NEW_CLONE


def death(be) -> None:
    be.launch("tumour_death", be.mp.n_sites)


def divide(be) -> int:
    """Two-phase division and founding of new clones (claim[] is all ones
    on entry: every phase resets the entries it used); returns how many
    clones were founded."""
    n = be.mp.n_sites
    xp = be.xp
    be.launch("tumour_divide_propose", n)
    be.launch("tumour_divide_commit", n)
    # Sites whose daughter mutated, in index order: their new clone ids are
    # an exclusive prefix sum, independent of how threads were scheduled.
    new_sites = xp.flatnonzero(be.claim == NEW_CLONE).astype(xp.uint32)
    k = int(new_sites.size)
    if k:
        st = be.state
        be.ensure_clone_capacity(st.n_clones + k)
        be.ensure_new_sites(new_sites)
        be.set_params(n_clones=st.n_clones, n_new=k)
        be.launch("tumour_found_clones", k)
        st.n_clones += k
    return k
