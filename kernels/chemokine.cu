// chemokine.cu -- the chemokine field: secretion by tumour cells, bursts
// where tumour cells were killed, explicit diffusion substeps, decay.
// NumPy twin: gpusim/reference/chemokine.py.  Host side: gpusim/engine/chemokine.py.
//
// Float32 with a fixed operation order and no FMA contraction (-fmad=false,
// -ffp-contract=off), and every product and stored value passed through
// chem_floor (field.cuh), so every backend rounds identically whether or not
// it flushes subnormals.
#include "common.cuh"
#include "field.cuh"

// Sources, per field cell b:
//   c[b] = floor(c[b] + (floor(secretion * cells) + floor(burst * kill_bursts[b]))); kill_bursts[b] = 0
//   in:  clone, kill_bursts, chemokine     out: chemokine, kill_bursts
//   rng: none
//   min traffic: 4 B/site + 16 B/thread (clone of every site; chemokine and kill_bursts of the field cell read and written)
GPUSIM_KERNEL void chemokine_secrete(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const field_block f = field_block_of(P, b);
    u32 cells = 0;
    for (u32 z = f.z0; z < f.z1; ++z)
        for (u32 y = f.y0; y < f.y1; ++y)
            for (u32 x = f.x0; x < f.x1; ++x)
                cells += F->clone[x + P->nx * (y + P->ny * z)] != 0;
    const f32 src = chem_floor(P->chem_secretion * (f32)cells) + chem_floor(P->chem_burst * (f32)F->kill_bursts[b]);
    F->chemokine[b] = chem_floor(F->chemokine[b] + src);
    F->kill_bursts[b] = 0;
}

// One explicit diffusion substep, per field cell b (field.cuh field_diffuse):
//   dst[b] = floor(src[b] + floor(alpha * sum_k (src[nbr_k] - src[b]))), neighbours in the
//   order -x, +x, -y, +y(, -z, +z); a closed boundary has no flux.
//   substep parity (sub & 1) 0: chemokine -> scratch, 1: scratch -> chemokine.
//   A run of a batch with fewer substeps (P->chem_substeps) than the launch
//   loop skips the rest.
//   rng: none
//   min traffic: 8 B/thread (one field cell read, one written; neighbours come from cache)
GPUSIM_KERNEL void chemokine_diffuse(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field || sub >= P->chem_substeps) return;
    const f32* src = (sub & 1u) ? F->chemokine_scratch : F->chemokine;
    f32* dst = (sub & 1u) ? F->chemokine : F->chemokine_scratch;
    dst[b] = field_diffuse(P, src, b, P->chem_alpha);
}

// Decay, per field cell: chemokine[b] = floor(src[b] * exp(-lambda dt)) (factor from
// the host), src chosen by the parity of this run's number of diffusion
// substeps (where the last one wrote), as in chemokine_diffuse.
//   rng: none
//   min traffic: 8 B/thread (field cell read and written)
GPUSIM_KERNEL void chemokine_decay(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const f32* src = (P->chem_substeps & 1u) ? F->chemokine_scratch : F->chemokine;
    F->chemokine[b] = chem_floor(src[b] * P->chem_decay);
}
