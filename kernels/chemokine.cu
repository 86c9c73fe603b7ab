// chemokine.cu -- the chemokine field: secretion by tumour cells, bursts
// where tumour cells were killed, explicit diffusion substeps, decay.
// NumPy twin: gpusim/reference/chemokine.py.  Host side: gpusim/engine/chemokine.py.
//
// Float32 with a fixed operation order and no FMA contraction (-fmad=false,
// -ffp-contract=off), so every backend rounds identically.
#include "common.cuh"
#include "field.cuh"

// Sources, per field cell b:
//   c[b] += secretion * (tumour cells in b) + burst * kill_bursts[b]; kill_bursts[b] = 0
//   in:  clone, kill_bursts, chemokine     out: chemokine, kill_bursts
//   rng: none
GPUSIM_KERNEL void chemokine_secrete(GPUSIM_ARGS)
{
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const u32 k = P->coarsen;
    const u32 bx = b % P->fx, by = (b / P->fx) % P->fy, bz = b / (P->fx * P->fy);
    const u32 kz = P->field_dim == 3 ? k : 1;
    // Field cells at the far edges may be partial when k does not divide the lattice.
    const u32 x1 = min(bx * k + k, P->nx), y1 = min(by * k + k, P->ny), z1 = min(bz * kz + kz, P->nz);
    u32 cells = 0;
    for (u32 z = bz * kz; z < z1; ++z)
        for (u32 y = by * k; y < y1; ++y)
            for (u32 x = bx * k; x < x1; ++x)
                cells += F->clone[x + P->nx * (y + P->ny * z)] != 0;
    const f32 src = P->chem_secretion * (f32)cells + P->chem_burst * (f32)F->kill_bursts[b];
    F->chemokine[b] = F->chemokine[b] + src;
    F->kill_bursts[b] = 0;
}

// One explicit diffusion substep, per field cell b (von Neumann stencil):
//   dst[b] = src[b] + alpha * sum_k (src[nbr_k] - src[b]), neighbours in the
//   order -x, +x, -y, +y(, -z, +z); a closed boundary has no flux.
//   P->chem_parity 0: chemokine -> scratch, 1: scratch -> chemokine.
//   rng: none
GPUSIM_KERNEL void chemokine_diffuse(GPUSIM_ARGS)
{
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const f32* src = P->chem_parity ? F->chemokine_scratch : F->chemokine;
    f32* dst = P->chem_parity ? F->chemokine : F->chemokine_scratch;
    const i32 n[3] = {(i32)P->fx, (i32)P->fy, (i32)P->fz};
    const i32 x[3] = {(i32)(b % P->fx), (i32)((b / P->fx) % P->fy), (i32)(b / (P->fx * P->fy))};
    const f32 c = src[b];
    f32 lap = 0.0f;
    for (u32 axis = 0; axis < P->field_dim; ++axis) {
        for (i32 sign = -1; sign <= 1; sign += 2) {
            i32 y[3] = {x[0], x[1], x[2]};
            y[axis] += sign;
            if (y[axis] < 0 || y[axis] >= n[axis]) {
                if (!P->periodic) continue;
                y[axis] = (y[axis] + n[axis]) % n[axis];
            }
            const u32 j = (u32)y[0] + P->fx * ((u32)y[1] + P->fy * (u32)y[2]);
            lap = lap + (src[j] - c);
        }
    }
    dst[b] = c + P->chem_alpha * lap;
}

// Decay, per field cell: chemokine[b] = src[b] * exp(-lambda dt) (factor from
// the host), src chosen by P->chem_parity as in chemokine_diffuse.
//   rng: none
GPUSIM_KERNEL void chemokine_decay(GPUSIM_ARGS)
{
    const u32 b = global_thread_index();
    if (b >= P->n_field) return;
    const f32* src = P->chem_parity ? F->chemokine_scratch : F->chemokine;
    F->chemokine[b] = src[b] * P->chem_decay;
}
