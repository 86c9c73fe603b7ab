// field.cu -- the diffusing fields (the chemokine, IFN-gamma, oxygen and any
// other declared in gpusim/components.py), one kernel set for all: decay
// before the sources (a field that says so), secretion by the cells of a
// layer, counts made by another phase (kills, engagements), first-order
// uptake by tumour cells, supply held at vessels (and the faces of a closed
// lattice), explicit diffusion substeps, decay.  Each launch names its field
// in `sub` and reads that field's record (Params field_*[f]) and arrays
// (Fields field_value[f], field_scratch[f], field_counts[f], field_fixed[f]).
// A term whose rate is 0 is skipped, so each field's operations are exactly
// those it had with a kernel of its own.  NumPy twin:
// gpusim/reference/diffusion.py.  Host side: gpusim/engine/field.py.
//
// Float32 with a fixed operation order and no FMA contraction (-fmad=false,
// -ffp-contract=off), and every product and stored value passed through
// chem_floor (field.cuh), so every backend rounds identically whether or not
// it flushes subnormals.
#include "common.cuh"
#include "field.cuh"

// The field of a launch: sub = field | substep << 8.
#define FIELD_OF(sub) ((sub) & 0xFFu)
#define SUBSTEP_OF(sub) ((sub) >> 8)

// Sources, per field cell b of field f (each line only where its rate is not 0):
//   v = floor(c[b] * decay_before)
//   v = floor(v + (floor(secrete_tumour * tumour cells) [+ floor(secrete_tcell * T cells)]
//                  [+ floor(per_count * counts[b])])); counts[b] = 0
//   v = floor(v + floor((uptake_ref - v) * (uptake_tumour * tumour cells)))
//   c[b] = supply_value if the cell holds a vessel site (or is on a face, supply_faces, closed
//          lattice), v otherwise; fixed[b] marks it for the substeps and the decay
//   in:  clone, tcell, vessel (those counted), counts, field      out: field, counts, fixed
//   rng: none
//   min traffic: 4 B/site + 16 B/thread (the chemokine's: clone of every site; the field cell and its counts
//                read and written; a field that counts T cells or vessels reads one more byte per site for each,
//                one without tumour terms none of the clone's, a supplied one writes its mark)
GPUSIM_KERNEL void field_secrete(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const u32 f = FIELD_OF(sub);
    const field_block blk = field_block_of(P, b);
    const bool by_tumour = P->field_secrete_tumour[f] != 0.0f || P->field_uptake_tumour[f] != 0.0f;
    const bool by_tcells = P->field_secrete_tcell[f] != 0.0f;
    const bool supplied = P->field_supply_vessels[f] != 0;
    u32 cells = 0, tcells = 0, vessels = 0;
    if (by_tumour || by_tcells || supplied)
        for (u32 z = blk.z0; z < blk.z1; ++z)
            for (u32 y = blk.y0; y < blk.y1; ++y)
                for (u32 x = blk.x0; x < blk.x1; ++x) {
                    const u32 i = x + P->nx * (y + P->ny * z);
                    if (by_tumour) cells += F->clone[i] != 0;
                    if (by_tcells) tcells += F->tcell[i] != 0;
                    if (supplied) vessels += F->vessel[i] != 0;
                }
    f32* c = F->field_value[f];
    f32 v = c[b];
    if (P->field_decay_before[f] != 1.0f) v = chem_floor(v * P->field_decay_before[f]);
    if (P->field_secrete_tumour[f] != 0.0f || by_tcells || P->field_takes_counts[f]) {
        f32 src = chem_floor(P->field_secrete_tumour[f] * (f32)cells);
        if (by_tcells) src = src + chem_floor(P->field_secrete_tcell[f] * (f32)tcells);
        if (P->field_takes_counts[f]) {
            u32* counts = F->field_counts[f];
            src = src + chem_floor(P->field_per_count[f] * (f32)counts[b]);
            counts[b] = 0;
        }
        v = chem_floor(v + src);
    }
    if (P->field_uptake_tumour[f] != 0.0f)
        v = chem_floor(v + chem_floor((P->field_uptake_ref[f] - v) * (P->field_uptake_tumour[f] * (f32)cells)));
    if (supplied) {
        const bool held = vessels != 0 ||
                          (P->field_supply_faces[f] && !P->periodic && field_on_face(P, blk.bx, blk.by, blk.bz));
        F->field_fixed[f][b] = held;
        if (held) v = P->field_supply_value[f];
    }
    c[b] = v;
}

// One explicit diffusion substep of field f, per field cell b (von Neumann stencil):
//   dst[b] = floor(src[b] + floor(alpha * sum_k (src[nbr_k] - src[b]))), neighbours in the
//   order -x, +x, -y, +y(, -z, +z); a closed boundary has no flux.
//   substep parity (s & 1) 0: value -> scratch, 1: scratch -> value.
//   A supplied cell (fixed, field_secrete) stays at the supply value.
//   A run of a batch with fewer substeps (P->field_substeps[f]) than the
//   launch loop skips the rest.
//   rng: none
//   min traffic: 8 B/thread (one field cell read, one written; neighbours come from cache; +1 B, the mark,
//                with a supply)
GPUSIM_KERNEL void field_diffuse(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    const u32 f = FIELD_OF(sub), s = SUBSTEP_OF(sub);
    if (b >= P->n_field || s >= P->field_substeps[f]) return;
    const f32* src = (s & 1u) ? F->field_scratch[f] : F->field_value[f];
    f32* dst = (s & 1u) ? F->field_value[f] : F->field_scratch[f];
    dst[b] = P->field_supply_vessels[f] && F->field_fixed[f][b] ? P->field_supply_value[f]
                                                                : diffuse_at(P, src, b, P->field_alpha[f]);  // field.cuh
}

// Decay of field f, per field cell: value[b] = floor(src[b] * exp(-lambda dt))
// (factor from the host; 1 for a field without decay after the diffusion:
// then this only brings an odd substep count's result back), src chosen by
// the parity of this run's number of diffusion substeps (where the last one
// wrote), as in field_diffuse; a supplied cell stays at the supply value.
// The host skips it where no run diffuses and every factor is 1.
//   rng: none
//   min traffic: 8 B/thread (field cell read and written; +1 B, the mark, with a supply)
GPUSIM_KERNEL void field_decay(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const u32 f = FIELD_OF(sub);
    const f32* src = (P->field_substeps[f] & 1u) ? F->field_scratch[f] : F->field_value[f];
    F->field_value[f][b] = P->field_supply_vessels[f] && F->field_fixed[f][b] ? P->field_supply_value[f]
                                                                             : chem_floor(src[b] * P->field_decay[f]);
}
