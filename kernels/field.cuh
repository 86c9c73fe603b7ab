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

// Recruitment level of a concentration: floor(c * scale), capped.  One
// float32 multiply and a truncating conversion: the same on every backend.
__device__ __forceinline__ u32 chemokine_level(const Params* P, f32 c)
{
    const f32 x = c * P->chem_level_scale;
    return x >= (f32)(GPUSIM_RECRUIT_LEVELS - 1) ? (u32)(GPUSIM_RECRUIT_LEVELS - 1) : (u32)x;
}
