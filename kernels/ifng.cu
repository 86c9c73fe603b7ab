// ifng.cu -- IFN-gamma and adaptive PD-L1 (the ifng component, off by
// default): the field that CD8 T cells release where they engage tumour cells
// they recognise, and the per-cell PD-L1 it induces.  NumPy twin:
// gpusim/reference/ifng.py.  Host side: gpusim/engine/ifng.py.
//
// Coupled rules elsewhere (DESIGN §9: they live in the phase that applies
// them): tcell_kill (kernels/tcell.cu) counts engagements into
// ifng_sources[field cell of the T cell] and treats an induced target as
// PD-L1 high (suppression, exhaustion, both countered by blockade).
//
// The field uses the chemokine's coarse grid and floor (field.cuh), float32
// with a fixed operation order and no FMA contraction.
#include "common.cuh"
#include "field.cuh"

// Philox phase ids of this component (ctr.z; philox.cuh: unique, never renumbered).
#define GPUSIM_PHASE_PDL1_LOSS 30      // x: tumour site (induced PD-L1, unexposed); .x PD-L1 lost?

// Per field cell b, after the step's kills:
//   ifng[b] = floor(floor(ifng[b] * decay) + floor(secretion * ifng_sources[b])); ifng_sources[b] = 0
//   in:  ifng, ifng_sources     out: ifng, ifng_sources
//   rng: none
//   min traffic: 16 B/thread (ifng and ifng_sources of the field cell read and written)
GPUSIM_KERNEL void ifng_field(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const f32 kept = chem_floor(F->ifng[b] * P->ifng_decay);
    const f32 src = chem_floor(P->ifng_secretion * (f32)F->ifng_sources[b]);
    F->ifng[b] = chem_floor(kept + src);
    F->ifng_sources[b] = 0;
}

// Per site, after the step's deaths (before division, so a daughter lands on
// a site whose flag is clear): no tumour cell -> flag clear; a tumour cell
// whose field cell holds >= threshold -> induced; an induced cell below it
// loses the flag with p_pdl1_loss.  Counts the induced cells (the step's
// observable: division adds only clear daughters).
//   in:  clone, ifng, pdl1_induced     out: pdl1_induced, counters[OBS_INDUCED_PDL1_CELLS]
//   rng: (site, step, PDL1_LOSS, 0).x lost?  (only for an induced, unexposed cell)
//   min traffic: 5 B/site (clone 4, pdl1_induced 1; the field only under tumour cells)
GPUSIM_KERNEL void ifng_induce(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    const u8 was = F->pdl1_induced[i];
    u8 now = 0;
    if (F->clone[i] != 0) {
        const f32 c = F->ifng[field_cell_of(P, site_coords(P, i))];
        if (c >= P->ifng_threshold) now = 1;
        else if (was) now = draw(P, i, GPUSIM_PHASE_PDL1_LOSS, 0).x < P->p_pdl1_loss ? 0 : 1;
    }
    if (now != was) F->pdl1_induced[i] = now;
    if (now) atomic_add_same(&F->counters[GPUSIM_OBS_INDUCED_PDL1_CELLS], 1ull);
}

// Observer (gpusim.components IFNG.observer), per site: the induced cells of
// a state no step has counted (step 0, a loaded checkpoint).
//   in:  clone, pdl1_induced     out: counters[OBS_INDUCED_PDL1_CELLS]
//   rng: none
//   min traffic: 5 B/site (clone 4, pdl1_induced 1)
GPUSIM_KERNEL void ifng_observe(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    const u64 induced = i < P->n_sites && F->clone[i] != 0 && F->pdl1_induced[i] != 0;
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_INDUCED_PDL1_CELLS], induced);
}
