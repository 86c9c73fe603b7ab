// initial.cu -- the state at step 0, built where the state lives (the GPU,
// or the host's OpenMP threads), from the same Philox counters as the NumPy
// twin gpusim/state.py initial_state.  Host side: gpusim/engine/initial.py.
//
//   initial_sites   per site    founder ball, vessels, initial T-cell bids
//   [select.cu]     the init_tcells lowest bids (kernels/select.cu)
//   tcell_transfer_place        a fresh T cell at each chosen site
#include "common.cuh"

// Per site: a founder cell (clone 1, byte P->init_cell) where the squared
// distance to the centre site ((n - 1) / 2 per axis) is <= P->init_radius2;
// a vessel where its Philox word < P->p_vessel; no T cell yet; claim[i] =
// initial T-cell bid claim_bid(priority, site) when P->init_tcell_bids, else
// all ones.  Counts the founders in counters[SLOT_FOUNDERS].
//   out: clone, cell, tcell, vessel, claim (every site written), counters[SLOT_FOUNDERS]
//   rng: (site, 0, VESSEL, 0).x vessel?; (site, 0, INITIAL_TCELL, 0).x priority
//   min traffic: 15 B/site (clone 4, cell 1, tcell 1, vessel 1, claim 8 written)
GPUSIM_KERNEL void initial_sites(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    const bool in = i < P->n_sites;
    bool founder = false;
    if (in) {
        const site_xyz c = site_coords(P, i);
        const long long dx = (long long)c.x - (long long)((P->nx - 1) / 2);
        const long long dy = (long long)c.y - (long long)((P->ny - 1) / 2);
        const long long dz = (long long)c.z - (long long)((P->nz - 1) / 2);
        founder = (u64)(dx * dx + dy * dy + dz * dz) <= P->init_radius2;
        F->clone[i] = founder ? 1u : 0u;
        F->cell[i] = founder ? (u8)P->init_cell : (u8)0;
        F->tcell[i] = 0;
        F->vessel[i] = P->p_vessel && draw(P, i, GPUSIM_PHASE_VESSEL, 0).x < P->p_vessel ? 1 : 0;
        F->claim[i] = P->init_tcell_bids ? claim_bid(draw(P, i, GPUSIM_PHASE_INITIAL_TCELL, 0).x, i) : GPUSIM_NO_BID;
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_SLOT_FOUNDERS], founder ? 1ull : 0ull);
}
