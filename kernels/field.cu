// field.cu -- the diffusing fields (the chemokine and any other declared in
// gpusim/components.py), one kernel set for all: secretion by the cells of a
// layer, bursts where tumour cells were killed, explicit diffusion
// substeps, decay.  Each launch names its field in `sub` and reads that
// field's record (Params field_*[f]) and arrays (Fields field_value[f],
// field_scratch[f]).  NumPy twin: gpusim/reference/diffusion.py.  Host side:
// gpusim/engine/field.py.
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

// Sources, per field cell b of field f:
//   c[b] = floor(c[b] + (floor(secrete_tumour * tumour cells) [+ floor(secrete_tcell * T cells)]
//                        [+ floor(burst * kill_bursts[b])])); kill_bursts[b] = 0 if the field takes bursts
//   (a term whose rate is 0, or a field without bursts, adds nothing: the chemokine's order is kept)
//   in:  clone (tcell), kill_bursts, field      out: field, kill_bursts
//   rng: none
//   min traffic: 4 B/site + 16 B/thread (clone of every site; field and kill_bursts of the field cell read and written)
GPUSIM_KERNEL void field_secrete(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const u32 f = FIELD_OF(sub);
    const u32 k = P->coarsen;
    const u32 bx = b % P->fx, by = (b / P->fx) % P->fy, bz = b / (P->fx * P->fy);
    const u32 kz = P->field_dim == 3 ? k : 1;
    // Field cells at the far edges may be partial when k does not divide the lattice.
    const u32 x1 = min(bx * k + k, P->nx), y1 = min(by * k + k, P->ny), z1 = min(bz * kz + kz, P->nz);
    const bool by_tcells = P->field_secrete_tcell[f] != 0.0f;
    u32 cells = 0, tcells = 0;
    for (u32 z = bz * kz; z < z1; ++z)
        for (u32 y = by * k; y < y1; ++y)
            for (u32 x = bx * k; x < x1; ++x) {
                const u32 i = x + P->nx * (y + P->ny * z);
                cells += F->clone[i] != 0;
                if (by_tcells) tcells += F->tcell[i] != 0;
            }
    f32 src = chem_floor(P->field_secrete_tumour[f] * (f32)cells);
    if (by_tcells) src = src + chem_floor(P->field_secrete_tcell[f] * (f32)tcells);
    if (P->field_takes_bursts[f]) {
        src = src + chem_floor(P->field_burst[f] * (f32)F->kill_bursts[b]);
        F->kill_bursts[b] = 0;
    }
    f32* c = F->field_value[f];
    c[b] = chem_floor(c[b] + src);
}

// One explicit diffusion substep of field f, per field cell b (von Neumann stencil):
//   dst[b] = floor(src[b] + floor(alpha * sum_k (src[nbr_k] - src[b]))), neighbours in the
//   order -x, +x, -y, +y(, -z, +z); a closed boundary has no flux.
//   substep parity (s & 1) 0: value -> scratch, 1: scratch -> value.
//   A run of a batch with fewer substeps (P->field_substeps[f]) than the
//   launch loop skips the rest.
//   rng: none
//   min traffic: 8 B/thread (one field cell read, one written; neighbours come from cache)
GPUSIM_KERNEL void field_diffuse(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    const u32 f = FIELD_OF(sub), s = SUBSTEP_OF(sub);
    if (b >= P->n_field || s >= P->field_substeps[f]) return;
    const f32* src = (s & 1u) ? F->field_scratch[f] : F->field_value[f];
    f32* dst = (s & 1u) ? F->field_value[f] : F->field_scratch[f];
    const u32 fx = P->fx, fy = P->fy, fz = P->fz;
    const u32 x = b % fx, y = (b / fx) % fy, z = b / (fx * fy);
    const u32 sy = fx, sz = fx * fy;  // index strides
    const bool wrap = P->periodic != 0;
    const f32 c = src[b];
    f32 lap = 0.0f;
    // -x, +x, -y, +y(, -z, +z): a missing neighbour (closed boundary) adds nothing.
    if (x > 0) lap = lap + (src[b - 1] - c); else if (wrap) lap = lap + (src[b + (fx - 1)] - c);
    if (x + 1 < fx) lap = lap + (src[b + 1] - c); else if (wrap) lap = lap + (src[b - (fx - 1)] - c);
    if (y > 0) lap = lap + (src[b - sy] - c); else if (wrap) lap = lap + (src[b + (fy - 1) * sy] - c);
    if (y + 1 < fy) lap = lap + (src[b + sy] - c); else if (wrap) lap = lap + (src[b - (fy - 1) * sy] - c);
    if (P->field_dim == 3) {
        if (z > 0) lap = lap + (src[b - sz] - c); else if (wrap) lap = lap + (src[b + (fz - 1) * sz] - c);
        if (z + 1 < fz) lap = lap + (src[b + sz] - c); else if (wrap) lap = lap + (src[b - (fz - 1) * sz] - c);
    }
    dst[b] = chem_floor(c + chem_floor(P->field_alpha[f] * lap));
}

// Decay of field f, per field cell: value[b] = floor(src[b] * exp(-lambda dt))
// (factor from the host), src chosen by the parity of this run's number of
// diffusion substeps (where the last one wrote), as in field_diffuse.
//   rng: none
//   min traffic: 8 B/thread (field cell read and written)
GPUSIM_KERNEL void field_decay(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const u32 f = FIELD_OF(sub);
    const f32* src = (P->field_substeps[f] & 1u) ? F->field_scratch[f] : F->field_value[f];
    F->field_value[f][b] = chem_floor(src[b] * P->field_decay[f]);
}
