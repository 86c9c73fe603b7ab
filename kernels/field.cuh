// field.cuh -- the coarse chemokine grid seen from the lattice.
//
// Field cell (bx, by, bz) covers lattice sites x in [bx*coarsen, (bx+1)*coarsen)
// (likewise y, z; z only in 3D); fx = ceil(nx / coarsen), so the last cells
// along an axis may be partial.  Field index b = bx + fx*(by + fy*bz).
#pragma once
#include "lattice.cuh"

__device__ __forceinline__ u32 field_cell_of(const Params* P, site_xyz c)
{
    const u32 k = P->coarsen;
    return (u32)c.x / k + P->fx * ((u32)c.y / k + P->fy * ((u32)c.z / k));
}

// The lattice sites of field cell b: [x0, x1) x [y0, y1) x [z0, z1) (the
// cells at the far edges may be partial when coarsen does not divide the lattice).
struct field_block { u32 bx, by, bz, x0, x1, y0, y1, z0, z1; };

__device__ __forceinline__ field_block field_block_of(const Params* P, u32 b)
{
    const u32 k = P->coarsen, kz = P->field_dim == 3 ? k : 1;
    field_block f;
    f.bx = b % P->fx; f.by = (b / P->fx) % P->fy; f.bz = b / (P->fx * P->fy);
    f.x0 = f.bx * k; f.y0 = f.by * k; f.z0 = f.bz * kz;
    f.x1 = min(f.x0 + k, P->nx); f.y1 = min(f.y0 + k, P->ny); f.z1 = min(f.z0 + kz, P->nz);
    return f;
}

// Field cell b on a face of the coarse grid (a closed lattice's boundary)?
__device__ __forceinline__ bool field_on_face(const Params* P, u32 bx, u32 by, u32 bz)
{
    return bx == 0 || bx + 1 == P->fx || by == 0 || by + 1 == P->fy ||
           (P->field_dim == 3 && (bz == 0 || bz + 1 == P->fz));
}

// The chemokine floor: |x| < 2^GPUSIM_CHEM_FLOOR_EXP -> +0.  Applied to every
// product and every stored value of the field.  Stored values are then 0 or
// at least 2^-100, i.e. multiples of 2^-123, so their differences and sums are
// 0 or normal numbers; a product that rounds below the floor is zero whether
// the hardware flushed it (-ftz=true) or not.  Every backend therefore rounds
// identically in either mode (the floor is 10^-30 of any concentration that
// matters).
__device__ __forceinline__ f32 chem_floor(f32 x)
{
    const f32 f = __uint_as_float((u32)(127 + GPUSIM_CHEM_FLOOR_EXP) << 23);
    return (x < f && x > -f) ? 0.0f : x;
}

// Recruitment level of a concentration: floor(c * scale), capped.  One
// float32 multiply and a truncating conversion: the same on every backend.
__device__ __forceinline__ u32 chemokine_level(const Params* P, f32 c)
{
    const f32 x = c * P->chem_level_scale;
    return x >= (f32)(GPUSIM_RECRUIT_LEVELS - 1) ? (u32)(GPUSIM_RECRUIT_LEVELS - 1) : (u32)x;
}

// One explicit diffusion substep at field cell b (von Neumann stencil):
//   floor(src[b] + floor(alpha * sum_k (src[nbr_k] - src[b]))), neighbours in the
//   order -x, +x, -y, +y(, -z, +z); a closed boundary has no flux.
// Every diffusing field (field.cu field_diffuse) uses this one stencil.
__device__ __forceinline__ f32 diffuse_at(const Params* P, const f32* src, u32 b, f32 alpha)
{
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
    return chem_floor(c + chem_floor(alpha * lap));
}
