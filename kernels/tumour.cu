// tumour.cu -- the tumour layer's rules: death, two-phase division, mutation
// of daughters (k ~ Poisson(mu) new mutations, a fraction of them
// neoantigens; PD-L1 and HLA-loss escapes), founding of new clones.  NumPy twin: gpusim/reference/tumour.py.
//
// One step of the tumour runs these kernels in this order (host side:
// gpusim/engine/tumour.py):
//   tumour_death           per site    killed, spontaneous and chemotherapy deaths
//   (claim[] is all ones between phases: every commit resets what it used;
//   the protocol is claim.cuh)
//   tumour_divide_propose  per site    a dividing cell claims one empty neighbour
//   tumour_divide_commit   per site    the mother whose claim is lowest on its target places a daughter
//   found_sum_groups, found_scan_groups, found_scan_chunks
//                          each chunk's first new-clone rank (prefix sum over sites)
//   [host] reads the step's number of new clones (8 bytes), grows the clone table
//   tumour_found_clones    per chunk of sites   new rows of the clone table, in site order
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
    const u32 i = phase_site(P, F);
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
// of its empty neighbours uniformly (in neighbour order) and bids for it;
// with oxygen on, only where its field cell is at or above the hypoxia threshold.
//   in:  clone, cell; claim must be all ones
//   out: claim[target] = min(claim_bid(priority, mother site)); claim[mother] = its bid's record
//   rng: (mother, step, TUMOUR_DIVIDE, 0): .x divide?, .y which neighbour, .z priority
//   min traffic: 5 B/site (clone 4, cell 1; neighbours only for dividing cells)
GPUSIM_KERNEL void tumour_divide_propose(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = phase_site(P, F);
    if (i >= P->n_sites) return;
    if (F->clone[i] == 0) return;
    const u8 cb = F->cell[i];
    if (!(cb & GPUSIM_CELL_STEM) && (cb & GPUSIM_CELL_DIVISIONS_MASK) == 0) return;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_TUMOUR_DIVIDE, 0);
    if (r.x >= P->p_tumour_divide) return;
    const site_xyz c = site_coords(P, i);
    // Oxygen (kernels/oxygen.cu, when on): a hypoxic cell does not divide.
    if (P->o2_on && F->oxygen_deficit[field_cell_of(P, c)] > P->o2_hypoxic_deficit) return;
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
                claim_propose_from(F, j, r.z, i);
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
    tile_touch(P, F, j);
    atomic_add_same(&F->counters[GPUSIM_COUNTER_DIVISIONS], 1ull);
    const philox_u32x4 m = draw(P, j, GPUSIM_PHASE_TUMOUR_MUTATE, 0);
    if (m.x < P->mutation_sf[0] || m.y < P->p_mut_pdl1 || m.z < P->p_mut_hla) {
        F->claim[j] = GPUSIM_CLAIM_NEW_CLONE;  // still counted in its parent's row until founded
        atomic_add_same(&F->found_chunks[j >> GPUSIM_FOUND_CHUNK_SHIFT], 1u);
    } else
        atomic_add_same(&F->clone_population[c], 1u);
}

// Phase 2 of division, per mother site (claim.cuh claim_commit: from the source side; per
// target site where the launch visits every site):
// the mother whose bid won its target places a daughter there.  A non-stem mother and daughter each keep (divisions left - 1);
// a stem mother stays stem and its daughter is stem with probability
// p_stem_symmetric, else a non-stem cell with max_divisions.  The daughter
// gains k ~ Poisson(mu) new mutations and may gain a PD-L1 or HLA-loss
// escape; k >= 1 or an escape marks the site CLAIM_NEW_CLONE for founding,
// every other claim is reset to NO_BID.
//   in:  claim, clone, cell
//   out: clone, cell (mother and daughter), claim, clone_population (+1 for
//        non-mutant daughters), found_chunks (+1 per mutant daughter),
//        counters[DIVISIONS]
//   rng: (mother, step, TUMOUR_DIVIDE, 0).w stem daughter?;
//        (daughter, step, TUMOUR_MUTATE, 0) .x k >= 1?, .y PD-L1?, .z HLA loss?
//   min traffic: 8 B/site (claim; the rest only where a daughter lands)
GPUSIM_KERNEL void tumour_divide_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    u32 s, j;  // claim[j] is reset: a mutant daughter marks it again
    if (phase_commit(P, F, &s, &j)) place_daughter(P, F, j, s);
}


// Chunks of sites for founding (below): how many, and those of group g.
__device__ __forceinline__ u32 found_n_chunks(const Params* P)
{
    return ((P->n_sites - 1) >> GPUSIM_FOUND_CHUNK_SHIFT) + 1;
}

// The chunks [c0, c1) of group g; false for a group past the last chunk.
__device__ __forceinline__ bool found_group_chunks(const Params* P, u32 g, u32* c0, u32* c1)
{
    const u32 n_chunks = found_n_chunks(P);
    *c0 = g << GPUSIM_FOUND_GROUP_SHIFT;
    if (*c0 >= n_chunks) return false;
    *c1 = min(*c0 + (1u << GPUSIM_FOUND_GROUP_SHIFT), n_chunks);
    return true;
}

// Founding new clones, numbered in site order (DESIGN §3 rule 5: an
// exclusive prefix sum over sites, never an atomic counter) without a
// library scan or a host pass: tumour_divide_commit counts the mutant
// daughters of each chunk of sites (found_chunks), three small kernels turn
// the counts into each chunk's first id, and one thread per chunk numbers
// its new clones in site order.
//
// found_sum_groups, per group g of chunks: found_groups[g] = sum of its chunk counts.
//   min traffic: 4 B/thread (per chunk count read, amortised: the counts are 1/1024 of the sites)
GPUSIM_KERNEL void found_sum_groups(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 g = global_thread_index();
    u32 c0, c1;
    if (!found_group_chunks(P, g, &c0, &c1)) return;
    u32 sum = 0;
    for (u32 c = c0; c < c1; ++c) sum += F->found_chunks[c];
    F->found_groups[g] = sum;
}

// found_scan_groups, one thread: found_groups becomes the exclusive prefix
// sum (each group's first new-clone rank); the total goes to
// counters[SLOT_NEW_CLONES] for the host.
//   min traffic: 8 B/thread (per group: read and written)
GPUSIM_KERNEL void found_scan_groups(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    if (global_thread_index() != 0) return;
    const u32 n_groups = ((found_n_chunks(P) - 1) >> GPUSIM_FOUND_GROUP_SHIFT) + 1;
    F->counters[GPUSIM_SLOT_NEW_CLONES] = exclusive_scan(F->found_groups, n_groups, 0);
}

// found_scan_chunks, per group: its chunk counts become exclusive prefix
// sums over all chunks (each chunk's first new-clone rank).
//   min traffic: 8 B/thread (per chunk count read and written, amortised as above)
GPUSIM_KERNEL void found_scan_chunks(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 g = global_thread_index();
    u32 c0, c1;
    if (!found_group_chunks(P, g, &c0, &c1)) return;
    exclusive_scan(F->found_chunks + c0, c1 - c0, F->found_groups[g]);
}

// Number of new mutations k of a daughter from its first MUTATE word:
// k ~ Poisson(mu) by inversion against the host's survival thresholds
// (mutation_sf[m] = P(k > m), non-increasing), capped at MUTATION_TABLE.
__device__ __forceinline__ u32 new_mutations(const Params* P, u32 word)
{
    u32 k = 0;
    for (u32 m = 0; m < GPUSIM_MUTATION_TABLE; ++m) k += word < P->mutation_sf[m];
    return k;
}

// One new clone: the daughter at site j founds clone `id` (a copy of its
// parent's row with the mutations it drew in tumour_divide_commit).  Each of
// its k new mutations is a neoantigen with probability p_neoantigen, whose
// immunogenicity a is drawn from the host's quantile table and folded into
// r in mutation order (the fold is not associative in integers).
//   rng: (daughter, step, TUMOUR_MUTATE, 0) redrawn: .x k, .y PD-L1?, .z HLA loss?;
//        (daughter, step, TUMOUR_MUTATE, 1 + m/2) per mutation m < k, see philox.cuh
__device__ __forceinline__ void found_clone(const Params* P, const Fields* F, u32 j, u32 id)
{
    const u32 parent = F->clone[j];
    const philox_u32x4 m = draw(P, j, GPUSIM_PHASE_TUMOUR_MUTATE, 0);
    const u32 k = new_mutations(P, m.x);
    u32 neo = F->clone_neoantigens[parent];
    u32 recog = F->clone_recognition[parent];
    for (u32 q = 0; q < k; q += 2) {
        const philox_u32x4 d = draw(P, j, GPUSIM_PHASE_TUMOUR_MUTATE, 1 + q / 2);
        if (d.x < P->p_neoantigen) {
            neo += 1;
            recog = combine_recognition(recog, P->immunogenicity[__umulhi(d.y, GPUSIM_IMMUNO_TABLE)]);
        }
        if (q + 1 < k && d.z < P->p_neoantigen) {
            neo += 1;
            recog = combine_recognition(recog, P->immunogenicity[__umulhi(d.w, GPUSIM_IMMUNO_TABLE)]);
        }
    }
    u8 flags = F->clone_flags[parent];
    if (m.y < P->p_mut_pdl1) flags |= GPUSIM_CLONE_PDL1;
    if (m.z < P->p_mut_hla) flags |= GPUSIM_CLONE_HLA;
    F->clone_parent[id] = parent;
    F->clone_birth_step[id] = P->step;
    F->clone_mutations[id] = k;
    F->clone_mutations_total[id] = F->clone_mutations_total[parent] + k;
    F->clone_neoantigens[id] = neo;
    F->clone_recognition[id] = recog;
    F->clone_flags[id] = flags;
    F->clone_population[id] = 1u;
    F->clone[j] = id;
    F->claim[j] = GPUSIM_NO_BID;
}

// Founding, one thread per chunk of sites: the k-th mutant daughter of the
// chunk in site order founds clone P->n_clones + found_chunks[c] + k (ids in
// site order whatever the thread schedule); P->n_new is the step's total.
// (The host then zeroes found_chunks for the next step's counts.)
//   in:  found_chunks, claim (CLAIM_NEW_CLONE marks), clone (the parent id), parents' rows
//   out: clone table rows n_clones .., clone[site] = new id, claim[site] reset
//   rng: see found_clone
//   min traffic: 4 B/thread (per chunk; the chunk's claims and the rows only where clones are founded)
GPUSIM_KERNEL void tumour_found_clones(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 c = global_thread_index();
    const u32 n_chunks = found_n_chunks(P);
    if (c >= n_chunks) return;
    const u32 first = F->found_chunks[c];
    const u32 end = c + 1 < n_chunks ? F->found_chunks[c + 1] : P->n_new;
    if (first == end) return;  // no new clone in this chunk
    u32 id = P->n_clones + first;
    const u32 j1 = min((c + 1) << GPUSIM_FOUND_CHUNK_SHIFT, P->n_sites);
    for (u32 j = c << GPUSIM_FOUND_CHUNK_SHIFT; j < j1 && id < P->n_clones + end; ++j)
        if (F->claim[j] == GPUSIM_CLAIM_NEW_CLONE) found_clone(P, F, j, id++);
}
