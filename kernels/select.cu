// select.cu -- the k lowest bids (claim.cuh claim_bid(priority, site)) in claim[],
// without sorting every site: the host picks a bound expected to admit a
// little more than k bids, this kernel appends the bids below it to
// selected[], and the host sorts those few.  The set below a bound does not
// depend on thread order, so neither does the answer (the k lowest, ties
// impossible: bids end in the site index).  Host side: gpusim/engine/select.py.
// Used for the initial T cells and for adoptive transfer.
#include "common.cuh"

// Per site: append claim[i] to selected[] if it is < P->select_below
// (appends beyond P->select_capacity are counted, not stored).
//   in:  claim     out: selected, counters[SLOT_SELECTED]
//   rng: none
//   min traffic: 8 B/site (claim read)
GPUSIM_KERNEL void select_below(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    const u64 bid = F->claim[i];
    if (bid >= P->select_below) return;
    const u64 slot = atomicAdd(&F->counters[GPUSIM_SLOT_SELECTED], 1ull);
    if (slot < P->select_capacity) F->selected[slot] = bid;
}
