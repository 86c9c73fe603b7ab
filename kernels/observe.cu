// observe.cu -- the state observables of gpusim/observables.py as integer
// reductions on the device (DESIGN §3 rule 6, §7): they land in the counters
// array beside the step's event counts and come back with them in one small
// transfer.  NumPy twin: gpusim/observables.py Observer.
#include "common.cuh"
#include "tcell.cuh"

// Per site: T cells, T cells that can no longer kill (no kills left or
// exhaustion >= threshold).  For the state a run starts from; after a step
// the same counts come from the kernel that last changes that layer
// (tcell_death).
//   in:  tcell     out: counters[OBS_TCELLS, OBS_TCELLS_EXHAUSTED]
//   rng: none
//   min traffic: 1 B/site (tcell read)
GPUSIM_KERNEL void observe_sites(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    u64 present = 0, stuck = 0;
    if (i < P->n_sites) {
        const u8 t = F->tcell[i];
        present = t != 0;
        stuck = present && !tcell_can_kill(P, t);
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_TCELLS], present);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_TCELLS_EXHAUSTED], stuck);
}

// Tumour cells on a closed boundary, one thread per row of sites along x
// (each (y, z); O(surface), not a pass over every site): a row on a y or z
// face of the box lies wholly on the boundary, any other row only at its
// two ends.  Run after the step's division (the step's last change to
// which sites hold tumour cells) and for the state a run starts from.
//   in:  clone     out: counters[OBS_EDGE_CELLS]
//   rng: none
//   min traffic: 8 B/thread (clone at the two ends of a row; whole rows on the y and z faces)
GPUSIM_KERNEL void observe_edge(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 r = global_thread_index();
    u64 edge = 0;
    if (r < P->ny * P->nz) {
        const u32 y = r % P->ny, z = r / P->ny, nx = P->nx;
        const u32* row = F->clone + (u64)nx * r;
        const bool face = y == 0 || y == P->ny - 1 || (P->field_dim == 3 && (z == 0 || z == P->nz - 1));
        if (face) {
            for (u32 x = 0; x < nx; ++x) edge += row[x] != 0;
        } else {
            edge = (row[0] != 0) + (nx > 1 && row[nx - 1] != 0);
        }
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_EDGE_CELLS], edge);
}

// Per clone row r in [1, sub) (sub = the clone count, passed with the
// launch; in a batch the largest run's: rows past a run's own count hold
// zeros and add nothing): live cells, live clones, cells of PD-L1 high and of HLA-lost
// clones, and the sums of population * recognition (uint64, wrapping;
// mean_recognition = that / cells / 2^32 on the host), population *
// mutations_total (tmb = that / cells) and population * neoantigens
// (neoantigen_load = that / cells).
//   in:  clone_population, clone_flags, clone_recognition, clone_mutations_total, clone_neoantigens
//   out: counters[OBS_TUMOUR_CELLS .. OBS_RECOGNITION_SUM, OBS_MUTATION_SUM, OBS_NEOANTIGEN_SUM]
//   rng: none
//   min traffic: 17 B/thread (population 4, recognition 4, mutations_total 4, neoantigens 4, flags 1 of one clone row)
GPUSIM_KERNEL void observe_clones(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 r = global_thread_index();
    u64 pop = 0, pdl1 = 0, hla = 0, recog = 0, muts = 0, neo = 0;
    if (r >= 1 && r < sub) {
        pop = F->clone_population[r];
        const u8 flags = F->clone_flags[r];
        pdl1 = (flags & GPUSIM_CLONE_PDL1) ? pop : 0;
        hla = (flags & GPUSIM_CLONE_HLA) ? pop : 0;
        recog = pop * (u64)F->clone_recognition[r];
        muts = pop * (u64)F->clone_mutations_total[r];
        neo = pop * (u64)F->clone_neoantigens[r];
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_TUMOUR_CELLS], pop);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_LIVE_CLONES], pop != 0);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_PDL1_CELLS], pdl1);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_HLA_LOSS_CELLS], hla);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_RECOGNITION_SUM], recog);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_MUTATION_SUM], muts);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_NEOANTIGEN_SUM], neo);
}
