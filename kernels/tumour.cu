// tumour.cu -- the tumour layer's rules: death, two-phase division, mutation
// of daughters, founding of new clones.  NumPy twin: gpusim/reference/tumour.py.
//
// One step of the tumour runs these kernels in this order (host side:
// gpusim/engine/tumour.py):
//   tumour_death           per site    killed, spontaneous and chemotherapy deaths
//   (claim[] is all ones between phases: every commit resets what it used;
//   the protocol is claim.cuh)
//   tumour_divide_propose  per site    a dividing cell claims one empty neighbour
//   tumour_divide_commit   per site    the lowest claim on each site wins
//   [host] new_sites = sites with claim == CLAIM_NEW_CLONE, in index order (prefix sum)
//   tumour_found_clones    per new clone   new rows of the clone table
#include "common.cuh"
#include "field.cuh"

// Recognition probabilities are uint32 thresholds T (p = T / 2^32).
// r_child = 1 - (1 - r_parent)(1 - a) is computed on the complements
// ~T ~ (1 - r) 2^32 with one 32x32 -> high-32 multiply: integer, exact,
// identical on every backend.
__device__ __forceinline__ u32 combine_recognition(u32 parent, u32 a)
{
    return ~__umulhi(~parent, ~a);
}

// Deaths: killed by a T cell (flag set in tcell_kill), spontaneous, or by a
// chemotherapy pulse.  A kill leaves a chemokine burst for the next step.
//   in:  clone, cell, P->p_tumour_death, P->p_chemo_tumour
//   out: clone, cell (cleared), clone_population (-1), kill_bursts (+1 per
//        kill, in the field cell), counters[DEATHS], counters[KILLS]
//   rng: (site, step, TUMOUR_DEATH, 0): .x spontaneous?, .y chemotherapy?
//   min traffic: 5 B/site (clone 4, cell 1; writes only where a cell dies)
GPUSIM_KERNEL void tumour_death(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    const u32 c = F->clone[i];
    if (c == 0) return;
    const bool killed = (F->cell[i] & GPUSIM_CELL_KILLED) != 0;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_TUMOUR_DEATH, 0);
    if (killed || r.x < P->p_tumour_death || r.y < P->p_chemo_tumour) {
        F->clone[i] = 0;
        F->cell[i] = 0;
        atomic_add_same(&F->clone_population[c], 0xFFFFFFFFu);  // -1, wrapping
        atomic_add_same(&F->counters[GPUSIM_COUNTER_DEATHS], 1ull);
        if (killed) {
            atomic_add_same(&F->counters[GPUSIM_COUNTER_KILLS], 1ull);
            atomic_add_same(&F->kill_bursts[field_cell_of(P, site_coords(P, i))], 1u);
        }
    }
}

// Phase 1 of division: a cell that may divide and draws "divide" picks one
// of its empty neighbours uniformly (in neighbour order) and bids for it.
//   in:  clone, cell; claim must be all ones
//   out: claim[target] = min(claim_bid(priority, mother site))
//   rng: (mother, step, TUMOUR_DIVIDE, 0): .x divide?, .y which neighbour, .z priority
//   min traffic: 5 B/site (clone 4, cell 1; neighbours only for dividing cells)
GPUSIM_KERNEL void tumour_divide_propose(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    if (F->clone[i] == 0) return;
    const u8 cb = F->cell[i];
    if (!(cb & GPUSIM_CELL_STEM) && (cb & GPUSIM_CELL_DIVISIONS_MASK) == 0) return;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_TUMOUR_DIVIDE, 0);
    if (r.x >= P->p_tumour_divide) return;
    const site_xyz c = site_coords(P, i);
    u32 n_free = 0;
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && F->clone[j] == 0) ++n_free;
    }
    if (n_free == 0) return;
    u32 pick = __umulhi(r.y, n_free);
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && F->clone[j] == 0) {
            if (pick == 0) {
                claim_propose(F, j, r.z, i);
                return;
            }
            --pick;
        }
    }
}

// The winning mother s of target j places her daughter (tumour_divide_commit).
__device__ __forceinline__ void place_daughter(const Params* P, const Fields* F, u32 j, u32 s)
{
    const u32 c = F->clone[s];
    const u8 cb = F->cell[s];
    u8 daughter;
    if (cb & GPUSIM_CELL_STEM) {
        const philox_u32x4 r = draw(P, s, GPUSIM_PHASE_TUMOUR_DIVIDE, 0);
        daughter = (r.w < P->p_stem_symmetric) ? (u8)GPUSIM_CELL_STEM : (u8)P->max_divisions;
    } else {
        daughter = (u8)((cb & GPUSIM_CELL_DIVISIONS_MASK) - 1);
        F->cell[s] = daughter;
    }
    F->clone[j] = c;
    F->cell[j] = daughter;
    atomic_add_same(&F->counters[GPUSIM_COUNTER_DIVISIONS], 1ull);
    const philox_u32x4 m = draw(P, j, GPUSIM_PHASE_TUMOUR_MUTATE, 0);
    if (m.x < P->p_mut_neoantigen || m.y < P->p_mut_pdl1 || m.z < P->p_mut_hla)
        F->claim[j] = GPUSIM_CLAIM_NEW_CLONE;  // still counted in its parent's row until founded
    else
        atomic_add_same(&F->clone_population[c], 1u);
}

// Phase 2 of division, per target site: the winning mother places a
// daughter.  A non-stem mother and daughter each keep (divisions left - 1);
// a stem mother stays stem and its daughter is stem with probability
// p_stem_symmetric, else a non-stem cell with max_divisions.  The daughter
// mutates (neoantigen, PD-L1, HLA loss); a mutant site is marked
// CLAIM_NEW_CLONE for founding, every other claim is reset to NO_BID.
//   in:  claim, clone, cell
//   out: clone, cell (mother and daughter), claim, clone_population (+1 for
//        non-mutant daughters), counters[DIVISIONS], counters[OBS_EDGE_CELLS]
//   rng: (mother, step, TUMOUR_DIVIDE, 0).w stem daughter?;
//        (daughter, step, TUMOUR_MUTATE, 0) .x .y .z mutation draws
//   min traffic: 8 B/site (claim; the rest only where a daughter lands)
GPUSIM_KERNEL void tumour_divide_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 j = global_thread_index();
    if (j >= P->n_sites) return;
    const u32 s = claim_take(P, F, j);  // resets claim[j]: a mutant daughter marks it again
    if (s != GPUSIM_NO_SITE) place_daughter(P, F, j, s);
    // The step's last change to which sites hold tumour cells: the edge
    // observable is counted here, not in another pass (observe.cu).
    if (!P->periodic && on_lattice_edge(P, site_coords(P, j)) && F->clone[j] != 0)
        atomic_add_same(&F->counters[GPUSIM_OBS_EDGE_CELLS], 1ull);
}


// Founding: one thread per new clone k, whose daughter sits at new_sites[k]
// (sites in index order, so the id P->n_clones + k is an exclusive prefix
// sum over sites: independent of thread scheduling).
//   in:  new_sites, clone (the parent id at that site), clone table rows of parents
//   out: clone table row n_clones + k, clone[site] = new id, claim[site] reset
//   rng: (daughter, step, TUMOUR_MUTATE, 0) redrawn: .x .y .z which
//        mutations, .w immunogenicity quantile of a new neoantigen
//   min traffic: 50 B/thread (per new clone: new_sites 4, clone 4, parent row 13 read; row 21, clone 4, claim 8 written)
GPUSIM_KERNEL void tumour_found_clones(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 k = global_thread_index();
    if (k >= P->n_new) return;
    const u32 j = F->new_sites[k];
    const u32 id = P->n_clones + k;
    const u32 parent = F->clone[j];
    const philox_u32x4 m = draw(P, j, GPUSIM_PHASE_TUMOUR_MUTATE, 0);
    u32 neo = F->clone_neoantigens[parent];
    u32 recog = F->clone_recognition[parent];
    u8 flags = F->clone_flags[parent];
    if (m.x < P->p_mut_neoantigen) {
        neo += 1;
        recog = combine_recognition(recog, P->immunogenicity[__umulhi(m.w, GPUSIM_IMMUNO_TABLE)]);
    }
    if (m.y < P->p_mut_pdl1) flags |= GPUSIM_CLONE_PDL1;
    if (m.z < P->p_mut_hla) flags |= GPUSIM_CLONE_HLA;
    F->clone_parent[id] = parent;
    F->clone_birth_step[id] = P->step;
    F->clone_neoantigens[id] = neo;
    F->clone_recognition[id] = recog;
    F->clone_flags[id] = flags;
    F->clone_population[id] = 1u;
    F->clone[j] = id;
    F->claim[j] = GPUSIM_NO_BID;
}
