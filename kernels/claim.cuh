// claim.cuh -- the two-phase claim protocol (DESIGN §3 rule 4): how tumour
// division, T-cell expansion, T-cell migration and adoptive transfer settle
// several contenders for one site.  Python twin: gpusim/claim.py.
//
// Fields.claim holds one 64-bit entry per site, GPUSIM_NO_BID (all ones)
// between phases.
//   propose: each contender bids claim_bid(priority, source) on its target
//            with a 64-bit atomicMin (claim_propose): the lowest priority wins,
//            ties go to the lower source index, and bids are unique.
//   commit:  one thread per target takes the winner with claim_take, which
//            resets the entry to GPUSIM_NO_BID (the thread may then leave a
//            mark a later launch of the same phase resets, e.g.
//            GPUSIM_CLAIM_NEW_CLONE).
#pragma once
#include "abi.cuh"
#include "lattice.cuh"

#define GPUSIM_CLAIM_SOURCE_BITS 32
#define GPUSIM_NO_BID 0xFFFFFFFFFFFFFFFFull
// Left by tumour_divide_commit on a daughter that founds a new clone (the
// host collects these sites in index order; tumour_found_clones resets them).
#define GPUSIM_CLAIM_NEW_CLONE 0

__device__ __forceinline__ u64 claim_bid(u32 priority, u32 source)
{
    return ((u64)priority << GPUSIM_CLAIM_SOURCE_BITS) | (u64)source;
}

__device__ __forceinline__ void claim_propose(const Fields* F, u32 target, u32 priority, u32 source)
{
    atomicMin(&F->claim[target], claim_bid(priority, source));
}

__device__ __forceinline__ u32 claim_source(u64 bid)
{
    return (u32)(bid & ((1ull << GPUSIM_CLAIM_SOURCE_BITS) - 1ull));
}

// The source that won site j, its entry reset to GPUSIM_NO_BID; or
// GPUSIM_NO_SITE where nobody bid (or j is past the lattice: one thread per site).
__device__ __forceinline__ u32 claim_take(const Params* P, const Fields* F, u32 j)
{
    if (j >= P->n_sites) return GPUSIM_NO_SITE;
    const u64 bid = F->claim[j];
    if (bid == GPUSIM_NO_BID) return GPUSIM_NO_SITE;
    F->claim[j] = GPUSIM_NO_BID;
    return claim_source(bid);
}
