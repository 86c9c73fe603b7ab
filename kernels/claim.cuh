// claim.cuh -- the two-phase claim protocol (DESIGN §3 rule 4): how tumour
// division, T-cell expansion, T-cell migration and adoptive transfer settle
// several contenders for one site.  Python twin: gpusim/claim.py.
//
// Fields.claim holds one 64-bit entry per site, GPUSIM_NO_BID (all ones)
// between phases.
//   propose: each contender bids claim_bid(priority, source) on its target
//            with a 64-bit atomicMin (claim_propose): the lowest priority wins,
//            ties go to the lower source index, and bids are unique.
//   commit:  from the source side (tiled launches): each contender finds out whether it won
//            (claim_won) and the winner acts on its target.  Commits run only
//            where contenders are (the active tiles, tiles.cuh), never at the
//            targets, which may lie in a tile nobody visits.  So the propose
//            also leaves the contender's own bid's target in claim[source]
//            (claim_propose_from): the source holds a cell and takes no bid in
//            that phase, and the contender need not recompute a target from a
//            state its neighbours are changing.  Commits run at every site of
//            the tiles they visit, targets included: a record is told from a
//            bid by its value (GPUSIM_CLAIM_RECORD), not by a racy look at
//            the layer.  The winner resets both
//            entries to GPUSIM_NO_BID (it may then leave a mark a later launch
//            of the same phase resets, GPUSIM_CLAIM_NEW_CLONE); a loser resets
//            its own.
//            A launch that visits every site (tiles off, or most tiles
//            active: tiles.cuh phase_dense) commits from the target side
//            instead (claim_take), as before tiles: each site reads only its
//            own entry, where the source side reads the record and then the
//            target's entry, a second scattered read that doubled the
//            commits' time on a full lattice.  Same winners, same entries
//            reset, so the same bytes (claim_commit picks the side).
#pragma once
#include "abi.cuh"
#include "lattice.cuh"

#define GPUSIM_CLAIM_SOURCE_BITS 32
#define GPUSIM_NO_BID 0xFFFFFFFFFFFFFFFFull
// Left by tumour_divide_commit on a daughter that founds a new clone
// (tumour_found_clones finds these sites in index order and resets them).
// Source GPUSIM_NO_SITE, priority 0: neither a bid nor a contender's record,
// so a loser reading its target while the winner marks it never takes the
// mark for its own bid, nor a thread at the daughter's site for a record.
#define GPUSIM_CLAIM_NEW_CLONE 0xFFFFFFFFull

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

// A contender's record at its source: (target << 32) | GPUSIM_CLAIM_RECORD.
// Site indices are at most 2^32 - 3 (gpusim/config.py), so a bid's low word (a
// site) is never GPUSIM_CLAIM_RECORD, nor is that of NO_BID or the NEW_CLONE mark.
#define GPUSIM_CLAIM_RECORD 0xFFFFFFFEu

// Propose, and leave the record at the source for claim_won.
__device__ __forceinline__ void claim_propose_from(const Fields* F, u32 target, u32 priority, u32 source)
{
    claim_propose(F, target, priority, source);
    F->claim[source] = ((u64)target << GPUSIM_CLAIM_SOURCE_BITS) | (u64)GPUSIM_CLAIM_RECORD;
}

// Commit, per site s: the target s won (both entries reset to
// GPUSIM_NO_BID), or GPUSIM_NO_SITE where s holds no record (it did not bid;
// or it is a target: a bid, NO_BID or the NEW_CLONE mark, left alone) or
// lost (its record reset).  Race-free: only s writes its record; only the
// winner of j writes claim[j] (to NO_BID, then perhaps the NEW_CLONE mark),
// and a loser reading it meanwhile sees the winning bid, NO_BID or the mark,
// none of which names it as source.  The winner is the lowest bid, as a
// target-side commit would pick (bids are unique and a source bids once).
__device__ __forceinline__ u32 claim_won(const Fields* F, u32 s)
{
    const u64 mine = F->claim[s];
    if ((u32)mine != GPUSIM_CLAIM_RECORD) return GPUSIM_NO_SITE;
    F->claim[s] = GPUSIM_NO_BID;
    const u32 j = (u32)(mine >> GPUSIM_CLAIM_SOURCE_BITS);
    if (claim_source(F->claim[j]) != s) return GPUSIM_NO_SITE;
    F->claim[j] = GPUSIM_NO_BID;
    return j;
}

// Commit from the target side, per site j (every site visited): the source
// whose bid won j, or GPUSIM_NO_SITE where j holds no bid.  Its entry is
// reset to GPUSIM_NO_BID in either case: a bid (the winner's; the losers'
// records are reset at their own sites) or j's own record (j is a
// contender).  Race-free: each thread reads and writes only its own entry.
// No NEW_CLONE mark is there to lose: entries are all ones when a commit
// starts, and only the thread of j marks j, after this.
__device__ __forceinline__ u32 claim_take(const Fields* F, u32 j)
{
    const u64 v = F->claim[j];
    if (v == GPUSIM_NO_BID) return GPUSIM_NO_SITE;
    F->claim[j] = GPUSIM_NO_BID;
    return (u32)v == GPUSIM_CLAIM_RECORD ? GPUSIM_NO_SITE : claim_source(v);
}

// The commit at site g of a phase (g >= n_sites: none): true and the
// winning (source *s, target *j) pair this thread acts for, from the target
// side where the launch visits every site (`every_site`), else from the
// source side.
__device__ __forceinline__ bool claim_commit(const Params* P, const Fields* F, u32 g, bool every_site, u32* s, u32* j)
{
    if (g >= P->n_sites) return false;
    if (every_site) {
        *j = g;
        *s = claim_take(F, g);
        return *s != GPUSIM_NO_SITE;
    }
    *s = g;
    *j = claim_won(F, g);
    return *j != GPUSIM_NO_SITE;
}
