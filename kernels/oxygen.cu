// oxygen.cu -- oxygen and hypoxia (the oxygen component, off by default):
// supply at vessels (and optionally the lattice faces), uptake by tumour
// cells, explicit diffusion on the chemokine's coarse grid; necrosis of
// anoxic tumour cells.  NumPy twin: gpusim/reference/oxygen.py.  Host side:
// gpusim/engine/oxygen.py.
//
// Coupled rules elsewhere (DESIGN §9: in the phase that applies them):
// tumour_divide_propose (tumour.cu) -- a cell below o2_hypoxia does not
// divide; tcell_kill (tcell.cu) -- a kill on a target below o2_hypoxia goes
// on with p_hypoxic_kill_pass.
//
// Float32 with a fixed operation order, no FMA contraction, the chemokine's
// floor (field.cuh).  The diffusion substep is the chemokine's stencil on
// this field's arrays (to become one instance of the shared field kernels).
#include "common.cuh"
#include "field.cuh"

// Philox phase ids of this component (ctr.z; philox.cuh: unique, never renumbered).
#define GPUSIM_PHASE_NECROSIS 34       // x: anoxic tumour site; .x necrosis?

// Field cell b on a face of the coarse grid (a closed lattice's boundary)?
__device__ __forceinline__ bool field_on_face(const Params* P, u32 bx, u32 by, u32 bz)
{
    return bx == 0 || bx + 1 == P->fx || by == 0 || by + 1 == P->fy ||
           (P->field_dim == 3 && (bz == 0 || bz + 1 == P->fz));
}

// Supply and uptake, per field cell b:
// on the deficit d = supply - oxygen (mmHg):
//   d[b] = 0                                                    if the cell holds a vessel site
//                                                               (or is on a face, o2_boundary_supply, closed lattice)
//   d[b] = floor(d[b] + floor((supply - d[b]) * (uptake * tumour cells)))   otherwise
//   (sources are marked in oxygen_source: every diffusion substep holds them at 0)
//   in:  clone, vessel, oxygen_deficit     out: oxygen_deficit, oxygen_source
//   rng: none
//   min traffic: 5 B/site + 9 B/thread (clone 4, vessel 1 of every site; the field cell read and written, its mark)
GPUSIM_KERNEL void oxygen_supply(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const field_block f = field_block_of(P, b);
    u32 cells = 0, vessels = 0;
    for (u32 z = f.z0; z < f.z1; ++z)
        for (u32 y = f.y0; y < f.y1; ++y)
            for (u32 x = f.x0; x < f.x1; ++x) {
                const u32 i = x + P->nx * (y + P->ny * z);
                cells += F->clone[i] != 0;
                vessels += F->vessel[i] != 0;
            }
    const bool source = vessels != 0 || (P->o2_boundary_supply && !P->periodic && field_on_face(P, f.bx, f.by, f.bz));
    const f32 d = F->oxygen_deficit[b];
    F->oxygen_source[b] = source;
    F->oxygen_deficit[b] = source ? 0.0f : chem_floor(d + chem_floor((P->o2_supply - d) * (P->o2_uptake * (f32)cells)));
}

// One explicit diffusion substep of the oxygen, per field cell (the
// chemokine's stencil and order: field.cuh diffuse_at); parity (sub & 1)
// 0: oxygen_deficit -> scratch, 1: scratch -> oxygen_deficit (the deficit
// diffuses as the oxygen does: the supply is a constant).  A run with fewer substeps
// than the launch loop skips the rest.  Sources stay at deficit 0 (Dirichlet).
//   rng: none
//   min traffic: 9 B/thread (one field cell read, one written, its source mark)
GPUSIM_KERNEL void oxygen_diffuse(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field || sub >= P->o2_substeps) return;
    const f32* src = (sub & 1u) ? F->oxygen_scratch : F->oxygen_deficit;
    f32* dst = (sub & 1u) ? F->oxygen_deficit : F->oxygen_scratch;
    dst[b] = F->oxygen_source[b] ? 0.0f : diffuse_at(P, src, b, P->o2_alpha);
}

// After an odd number of substeps the field is in scratch: copy it back.
//   rng: none
//   min traffic: 8 B/thread (field cell read and written, odd substep counts only)
GPUSIM_KERNEL void oxygen_settle(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field || !(P->o2_substeps & 1u)) return;
    F->oxygen_deficit[b] = F->oxygen_scratch[b];
}

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
