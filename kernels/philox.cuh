// philox.cuh -- Philox4x32-10 (Salmon et al. 2011, Random123; the algorithm
// behind cuRAND's Philox), the only source of randomness in gpusim.
//
// Counter-based: nothing is stored between steps, a restart needs only the
// step number, and any thread can draw its numbers without coordination.
//
// Counter layout (every draw of the tumour, the T cells and the initial state
// is listed here; a later component declares its own phase ids at the top of
// its kernel file, kernels/<name>.cu, with the same comment form):
//   ctr.x = site index (or clone / agent index where stated)
//   ctr.y = step number
//   ctr.z = phase id (GPUSIM_PHASE_* below)
//   ctr.w = substep or draw id within the phase (0 when unused)
//   key   = the run's 64-bit seed (low word, high word)
//
// Known answer: ctr (0,0,0,0), key (0,0) -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
#pragma once
#include "abi.cuh"

// Phase ids (ctr.z).  Never renumber: that changes every trajectory.  Ids are
// unique across every kernel file (gpusim.abi.constants reads them all;
// tests/test_abi.py fails on two equal ids; gpusim.abi.phase_ids() lists
// those taken, with the file of each).
#define GPUSIM_PHASE_TUMOUR_DEATH 10   // x: site; .x spontaneous death?, .y chemotherapy death?
#define GPUSIM_PHASE_TUMOUR_DIVIDE 11  // x: mother site; .x divide?, .y which empty neighbour, .z claim priority, .w daughter stem?
#define GPUSIM_PHASE_TUMOUR_MUTATE 12  // x: daughter site; draw 0: .x number of new mutations k (vs mutation_sf), .y PD-L1?, .z HLA loss?
                                       //   draw 1 + m/2 for new mutation m < k: .x/.z (m even/odd) neoantigen?, .y/.w its immunogenicity quantile
                                       //   (at most 1 + GPUSIM_MUTATION_TABLE/2 draws per daughter)
#define GPUSIM_PHASE_VESSEL 1          // x: site, step 0; .x vessel? (initial state, host)
#define GPUSIM_PHASE_INITIAL_TCELL 2   // x: site, step 0; .x placement priority (initial state, host)
#define GPUSIM_PHASE_RECRUIT 20        // x: vessel site; .x recruit?, .y entry blocked by a perivascular myeloid cell? (myeloid on)
#define GPUSIM_PHASE_TRANSFER 21       // x: site; .x placement priority of adoptive transfer
#define GPUSIM_PHASE_KILL 22           // x: T-cell site; draw 0: .x attempt?, .y which target, .z recognised?, .w expansion bid
                                       //                 draw 1: .x exhausted by PD-L1?, .y passes PD-L1?, .z expand?, .w which free site
                                       //                 draw 2 (a kill otherwise made, with a Treg in contact):
                                       //                   .x passes Treg suppression?, .y expansion passes it?
                                       //                 (or oxygen on, target hypoxic) .z passes hypoxia?
                                       //                 draw 3 (myeloid on, a myeloid suppressor in contact, kill otherwise made):
                                       //                   .x passes myeloid suppression?, .y expansion passes it?
#define GPUSIM_PHASE_MIGRATE 23        // x: T-cell site, w: move substep; .x direction, .y claim priority,
                                       //   .z takes the fractional last substep? (substep == full_moves only),
                                       //   .w held beside a myeloid suppressor? (myeloid on)
#define GPUSIM_PHASE_TCELL_DEATH 24    // x: T-cell site; .x death?, .y chemotherapy death?, .z sheds an exhaustion level?

struct philox_u32x4 { u32 x, y, z, w; };

__device__ __forceinline__ philox_u32x4 philox4x32_10(philox_u32x4 c, u32 k0, u32 k1)
{
    const u32 M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const u32 W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        if (r > 0) { k0 += W0; k1 += W1; }
        const u32 hi0 = __umulhi(M0, c.x), lo0 = M0 * c.x;
        const u32 hi1 = __umulhi(M1, c.z), lo1 = M1 * c.z;
        philox_u32x4 n;
        n.x = hi1 ^ c.y ^ k0;
        n.y = lo1;
        n.z = hi0 ^ c.w ^ k1;
        n.w = lo0;
        c = n;
    }
    return c;
}

// The four words for (index, this step, phase, draw) under the run's key.
__device__ __forceinline__ philox_u32x4 draw(const Params* P, u32 index, u32 phase, u32 sub)
{
    philox_u32x4 c;
    c.x = index; c.y = P->step; c.z = phase; c.w = sub;
    return philox4x32_10(c, P->key0, P->key1);
}
