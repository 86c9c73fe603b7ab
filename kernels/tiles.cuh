// tiles.cuh -- active tiles: which sites a per-site phase visits.
//
// The lattice is cut into tiles of 2^GPUSIM_TILE_BITS = 64 sites (4x4x4 in
// 3D, 8x8 in 2D; Params.tile_bits_*).  Each run keeps, on the device, the
// list of its active tiles in tile order (tiles.cu builds it by a prefix
// sum, gpusim/engine/tiles.py decides when).  A tile is active while it
// holds anything a phase acts on: a non-zero entry of one of the site
// arrays the components name (Component.occupancy: tumour clone, T cell).
// Activation follows occupancy, not a halo of neighbouring tiles: a phase
// that acts on a neighbour of an occupied site reads it wherever it is, and
// two-phase claims commit from the source side (claim.cuh; from the target
// side only where a launch visits every site), so a target in
// an inactive tile needs no thread of its own.  A kernel that puts a cell
// on a site calls tile_touch, and the list is rebuilt before the next
// phase that acts on cells.  A tile that empties stays in the list until
// the end-of-step sweep (tiles_sweep): visiting it costs time, not results.
//
// Launch over a phase's sites (gpusim/engine/tiles.py launch_sites): with
// tiles on, 64 threads per list entry (a GPU block of 256 holds 4 tiles);
// phase_site() maps the thread to its site, GPUSIM_NO_SITE past the list
// or the lattice.  With tiles off, one thread per site as before.  Either
// way every occupied site is visited exactly once, and kernels do not
// depend on the order of threads, so results are the same bit for bit.
#pragma once
#include "abi.cuh"
#include "lattice.cuh"

#define GPUSIM_TILE_SITES (1u << GPUSIM_TILE_BITS)

// Does a per-site phase launched now visit every site of the run?  Tiles
// off, or most tiles active (a lattice full of cells): every site, as dense
// stepping does -- visiting a site that holds nothing changes nothing, and
// the dense order is cheaper there.  host_launch.h decides alike.  The same
// answer for every thread of a launch (no kernel of a phase changes COUNT).
__device__ __forceinline__ bool phase_dense(const Params* P, const Fields* F)
{
    return !P->tiles_on || F->tile_state[GPUSIM_TILE_COUNT] >= P->tiles_dense_from;
}

// The site of this thread of a per-site phase (see above).  Replaces
// global_thread_index() at the top of a per-site kernel; the kernel's own
// `if (i >= P->n_sites) return;` then skips GPUSIM_NO_SITE.
__device__ __forceinline__ u32 phase_site(const Params* P, const Fields* F)
{
    const u32 g = global_thread_index();
    if (phase_dense(P, F)) return g;
    const u32 count = F->tile_state[GPUSIM_TILE_COUNT];
    const u32 e = g >> GPUSIM_TILE_BITS;
    if (e >= count) return GPUSIM_NO_SITE;
    // The list holds each tile's first site and its extent along x, y, z
    // (tile_span, written once per build): no division per thread.
    const u32 l = g & (GPUSIM_TILE_SITES - 1u), span = F->tile_span[e];
    const u32 bx = P->tile_bits_x, by = P->tile_bits_y;
    const u32 lx = l & ((1u << bx) - 1u), ly = (l >> bx) & ((1u << by) - 1u), lz = l >> (bx + by);
    if (lx >= (span & 15u) || ly >= ((span >> 4) & 15u) || lz >= (span >> 8)) return GPUSIM_NO_SITE;
    return F->tile_list[e] + lx + P->nx * (ly + P->ny * lz);
}

__device__ __forceinline__ u32 tile_of(const Params* P, u32 i)
{
    const site_xyz c = site_coords(P, i);
    const u32 bx = P->tile_bits_x, by = P->tile_bits_y, bz = GPUSIM_TILE_BITS - bx - by;
    return ((u32)c.x >> bx) + P->tnx * (((u32)c.y >> by) + P->tny * ((u32)c.z >> bz));
}

// The commit of a two-phase claim at this thread's site of a per-site phase
// (claim.cuh claim_commit): from the target side when the launch visits every site.
__device__ __forceinline__ bool phase_commit(const Params* P, const Fields* F, u32* s, u32* j)
{
    return claim_commit(P, F, phase_site(P, F), phase_dense(P, F), s, j);
}

// A cell was put on site i: its tile joins the list at the next build.
// Threads that race here all write the same values.  With every tile
// listed every flag is set (flags are cleared only by tiles_sweep and
// tiles_mark_all, each followed by a build), so there is nothing to do --
// and nothing to divide for tile_of, at each division and move of a full lattice.
__device__ __forceinline__ void tile_touch(const Params* P, const Fields* F, u32 i)
{
    if (!P->tiles_on || F->tile_state[GPUSIM_TILE_COUNT] == P->n_tiles) return;
    const u32 t = tile_of(P, i);
    if (!F->tile_flags[t]) {
        F->tile_flags[t] = 1;
        F->tile_state[GPUSIM_TILE_DIRTY] = 1;
    }
}

// The site of this thread of tcell_recruit: with tiles on, one thread per
// vessel (Fields.vessel_list, built once: vessels never change; 2 % of the
// sites are vessels, spread over every tile, so tiles would not thin them);
// every site otherwise.
__device__ __forceinline__ u32 vessel_site(const Params* P, const Fields* F)
{
    const u32 g = global_thread_index();
    if (!P->vessels_listed) return g;
    return g < F->tile_state[GPUSIM_TILE_VESSELS] ? F->vessel_list[g] : GPUSIM_NO_SITE;
}
