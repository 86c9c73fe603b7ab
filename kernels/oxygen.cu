// oxygen.cu -- oxygen and hypoxia (the oxygen component, off by default):
// necrosis of anoxic tumour cells and the hypoxia observer.  The field itself
// (supply at vessels and optionally the lattice faces, uptake by tumour
// cells, explicit diffusion on the chemokine's coarse grid) is a diffusing
// field run by the shared kernels (field.cu, record in gpusim/components.py
// OXYGEN).  NumPy twin: gpusim/reference/oxygen.py.  Host side:
// gpusim/engine/oxygen.py.
//
// Coupled rules elsewhere (DESIGN §9: in the phase that applies them):
// tumour_divide_propose (tumour.cu) -- a cell below o2_hypoxia does not
// divide; tcell_kill (tcell.cu) -- a kill on a target below o2_hypoxia goes
// on with p_hypoxic_kill_pass.
#include "common.cuh"
#include "field.cuh"

// Philox phase ids of this component (ctr.z; philox.cuh: unique, never renumbered).
#define GPUSIM_PHASE_NECROSIS 34       // x: anoxic tumour site; .x necrosis?

// Necrosis, per site, after the step's other deaths: a tumour cell whose
// field cell is below the anoxia threshold (deficit above o2_anoxic_deficit) dies with p_necrosis and leaves a necrotic
// site; a site holding a tumour cell is not necrotic.
//   in:  clone, oxygen_deficit, necrotic     out: clone, cell, necrotic, clone_population (-1),
//        counters[DEATHS, NECROSES]
//   rng: (site, step, NECROSIS, 0).x necrosis?  (anoxic tumour cells only)
//   min traffic: 5 B/site (clone 4, necrotic 1; the field only under tumour cells)
GPUSIM_KERNEL void tumour_necrosis(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    const u32 c = F->clone[i];
    if (c == 0) return;
    if (F->oxygen_deficit[field_cell_of(P, site_coords(P, i))] > P->o2_anoxic_deficit &&
        draw(P, i, GPUSIM_PHASE_NECROSIS, 0).x < P->p_necrosis) {
        F->clone[i] = 0;
        F->cell[i] = 0;
        F->necrotic[i] = 1;
        atomic_add_same(&F->clone_population[c], 0xFFFFFFFFu);  // -1, wrapping
        atomic_add_same(&F->counters[GPUSIM_COUNTER_DEATHS], 1ull);
        atomic_add_same(&F->counters[GPUSIM_COUNTER_NECROSES], 1ull);
    } else if (F->necrotic[i]) {
        F->necrotic[i] = 0;
    }
}

// Observer, per site (every step's end, and a state no step has counted):
// hypoxic tumour cells (field cell below the hypoxia threshold) and necrotic sites
// (necrotic, no tumour cell).
//   in:  clone, oxygen_deficit, necrotic     out: counters[OBS_HYPOXIC_CELLS, OBS_NECROTIC_SITES]
//   rng: none
//   min traffic: 5 B/site (clone 4, necrotic 1; the field only under tumour cells)
GPUSIM_KERNEL void oxygen_observe(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    u64 hypoxic = 0, necrotic = 0;
    if (i < P->n_sites) {
        if (F->clone[i] != 0)
            hypoxic = F->oxygen_deficit[field_cell_of(P, site_coords(P, i))] > P->o2_hypoxic_deficit;
        else
            necrotic = F->necrotic[i] != 0;
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_HYPOXIC_CELLS], hypoxic);
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_NECROTIC_SITES], necrotic);
}
