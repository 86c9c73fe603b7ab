// lattice.cuh -- site indexing and neighbours.
//
// Site index i = x + nx*(y + ny*z).  Neighbour k of a site is the offset
// (nbr_dx[k], nbr_dy[k], nbr_dz[k]) from Params, in the canonical order that
// gpusim/lattice.py defines (the order matters: "uniform choice among the
// k free neighbours" picks by position in this order).
#pragma once
#include "abi.cuh"

#define GPUSIM_NO_SITE 0xFFFFFFFFu

__device__ __forceinline__ u32 global_thread_index()
{
    return blockIdx.x * blockDim.x + threadIdx.x;
}

struct site_xyz { i32 x, y, z; };

__device__ __forceinline__ site_xyz site_coords(const Params* P, u32 i)
{
    site_xyz c;
    c.x = (i32)(i % P->nx);
    c.y = (i32)((i / P->nx) % P->ny);
    c.z = (i32)(i / (P->nx * P->ny));
    return c;
}

// Neighbour k of the site at c: its coordinates in *out and its index, or
// GPUSIM_NO_SITE beyond a closed boundary.  Callers compute c once per
// site: the integer divisions are the cost.
__device__ __forceinline__ u32 neighbour_at(const Params* P, site_xyz c, u32 k, site_xyz* out)
{
    const i32 nx = (i32)P->nx, ny = (i32)P->ny, nz = (i32)P->nz;
    i32 xj = c.x + P->nbr_dx[k], yj = c.y + P->nbr_dy[k], zj = c.z + P->nbr_dz[k];
    if (P->periodic) {
        // Offsets are -1, 0 or +1: wrap without an integer division.
        xj = xj < 0 ? xj + nx : (xj >= nx ? xj - nx : xj);
        yj = yj < 0 ? yj + ny : (yj >= ny ? yj - ny : yj);
        zj = zj < 0 ? zj + nz : (zj >= nz ? zj - nz : zj);
    } else if (xj < 0 || xj >= nx || yj < 0 || yj >= ny || zj < 0 || zj >= nz) {
        return GPUSIM_NO_SITE;
    }
    out->x = xj; out->y = yj; out->z = zj;
    return (u32)xj + P->nx * ((u32)yj + P->ny * (u32)zj);
}

__device__ __forceinline__ u32 neighbour(const Params* P, site_xyz c, u32 k)
{
    site_xyz unused;
    return neighbour_at(P, c, k, &unused);
}
