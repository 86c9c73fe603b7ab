// tiles.cu -- each run's list of active tiles, built on the device (no
// host round trip): which tiles hold anything a phase acts on, and the
// list of those tiles in tile order by an exclusive prefix sum (never an
// atomic append, whose order would depend on the thread schedule).  What a
// tile is and how a phase visits the list: tiles.cuh.  Host side:
// gpusim/engine/tiles.py.
//
//   tiles_mark_all    per tile    flag = holds anything (a state loaded or built)
//   tiles_sweep       per entry   flag = 0 for a listed tile that holds nothing (end of step)
//   observe_edge_tiles per entry  tumour cells on the boundary, from listed tiles on a face
//   [tile_touch in the rule kernels sets the flags of tiles that gain a cell]
//   tiles_count_chunks, tiles_sum_groups, tiles_scan_top, tiles_scan_chunks, tiles_scatter
//                     the list rebuilt from the flags, only if one changed
//                     (tile_state[DIRTY]); else each returns at once
#include "common.cuh"

// The sites of tile t: [x0, x1) x [y0, y1) x [z0, z1), cut at the lattice's far faces.
struct tile_box { u32 x0, x1, y0, y1, z0, z1; };

__device__ __forceinline__ tile_box tile_sites(const Params* P, u32 t)
{
    const u32 bx = P->tile_bits_x, by = P->tile_bits_y, bz = GPUSIM_TILE_BITS - bx - by;
    tile_box b;
    b.x0 = (t % P->tnx) << bx;
    b.y0 = ((t / P->tnx) % P->tny) << by;
    b.z0 = (t / (P->tnx * P->tny)) << bz;
    b.x1 = min(b.x0 + (1u << bx), P->nx);
    b.y1 = min(b.y0 + (1u << by), P->ny);
    b.z1 = min(b.z0 + (1u << bz), P->nz);
    return b;
}

// Entry i of occupancy array q is non-zero (its element size from the host).
__device__ __forceinline__ bool occupied_in(const Params* P, const Fields* F, u32 q, u32 i)
{
    const u8* a = F->occupancy[q];
    switch (P->occupancy_bytes[q]) {
    case 1: return a[i] != 0;
    case 2: return ((const unsigned short*)a)[i] != 0;
    case 4: return ((const u32*)a)[i] != 0;
    case 8: return ((const u64*)a)[i] != 0;
    default: return false;
    }
}

// Tile t holds a non-zero entry of one of the occupancy arrays.
__device__ __forceinline__ bool tile_occupied(const Params* P, const Fields* F, u32 t)
{
    const tile_box b = tile_sites(P, t);
    for (u32 q = 0; q < GPUSIM_MAX_OCCUPANCY; ++q) {
        if (!P->occupancy_bytes[q]) continue;
        for (u32 z = b.z0; z < b.z1; ++z)
            for (u32 y = b.y0; y < b.y1; ++y)
                for (u32 x = b.x0; x < b.x1; ++x)
                    if (occupied_in(P, F, q, x + P->nx * (y + P->ny * z))) return true;
    }
    return false;
}

// Per tile: its flag from what it holds, for a state built or loaded.
//   in:  occupancy arrays     out: tile_flags, tile_state[DIRTY]
//   min traffic: 5 B/site (clone 4, tcell 1 read, for the shipped components)
GPUSIM_KERNEL void tiles_mark_all(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 t = global_thread_index();
    if (t >= P->n_tiles) return;
    F->tile_flags[t] = tile_occupied(P, F, t) ? 1 : 0;
    if (t == 0) F->tile_state[GPUSIM_TILE_DIRTY] = 1;
}

// Per entry of the list: a tile that holds nothing leaves at the next build.
//   in:  tile_list, occupancy arrays     out: tile_flags, tile_state[DIRTY]
//   min traffic: 320 B/thread (a listed tile's 64 sites: clone 4, tcell 1; less where a cell is found early)
GPUSIM_KERNEL void tiles_sweep(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 e = global_thread_index();
    if (e >= F->tile_state[GPUSIM_TILE_COUNT]) return;
    const u32 t = tile_of(P, F->tile_list[e]);
    if (!tile_occupied(P, F, t)) {
        F->tile_flags[t] = 0;
        F->tile_state[GPUSIM_TILE_DIRTY] = 1;
    }
}

__device__ __forceinline__ u32 tile_n_chunks(const Params* P)
{
    return ((P->n_tiles - 1) >> GPUSIM_TILE_CHUNK_SHIFT) + 1;
}

__device__ __forceinline__ u32 tile_n_groups(const Params* P)
{
    return ((tile_n_chunks(P) - 1) >> GPUSIM_TILE_GROUP_SHIFT) + 1;
}

// Per chunk c of tiles: tile_chunks[c] = its active tiles.
//   min traffic: 256 B/thread (one chunk's flags)
GPUSIM_KERNEL void tiles_count_chunks(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 c = global_thread_index();
    if (c >= tile_n_chunks(P) || !F->tile_state[GPUSIM_TILE_DIRTY]) return;
    const u32 t1 = min((c + 1) << GPUSIM_TILE_CHUNK_SHIFT, P->n_tiles);
    u32 n = 0;
    for (u32 t = c << GPUSIM_TILE_CHUNK_SHIFT; t < t1; ++t) n += F->tile_flags[t];
    F->tile_chunks[c] = n;
}

// Per group g of chunks: tile_groups[g] = the sum of its chunk counts.
//   min traffic: 1024 B/thread (one group's chunk counts)
GPUSIM_KERNEL void tiles_sum_groups(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 g = global_thread_index();
    if (g >= tile_n_groups(P) || !F->tile_state[GPUSIM_TILE_DIRTY]) return;
    const u32 c1 = min((g + 1) << GPUSIM_TILE_GROUP_SHIFT, tile_n_chunks(P));
    u32 n = 0;
    for (u32 c = g << GPUSIM_TILE_GROUP_SHIFT; c < c1; ++c) n += F->tile_chunks[c];
    F->tile_groups[g] = n;
}

// One thread: tile_groups becomes its exclusive prefix sum; the total is
// the list's new length.  DIRTY moves to REBUILD, for the two kernels that
// follow (a flag set after this build is seen by the next one).
//   min traffic: 8 B/thread (per group, read and written: one thread)
GPUSIM_KERNEL void tiles_scan_top(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    if (global_thread_index() != 0) return;
    F->tile_state[GPUSIM_TILE_REBUILD] = F->tile_state[GPUSIM_TILE_DIRTY];
    if (!F->tile_state[GPUSIM_TILE_DIRTY]) return;
    F->tile_state[GPUSIM_TILE_DIRTY] = 0;
    F->tile_state[GPUSIM_TILE_COUNT] = exclusive_scan(F->tile_groups, tile_n_groups(P), 0);
}

// Per group: its chunk counts become each chunk's first list entry.
//   min traffic: 2048 B/thread (one group's chunk counts, read and written)
GPUSIM_KERNEL void tiles_scan_chunks(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 g = global_thread_index();
    if (g >= tile_n_groups(P) || !F->tile_state[GPUSIM_TILE_REBUILD]) return;
    const u32 c0 = g << GPUSIM_TILE_GROUP_SHIFT, c1 = min(c0 + (1u << GPUSIM_TILE_GROUP_SHIFT), tile_n_chunks(P));
    exclusive_scan(F->tile_chunks + c0, c1 - c0, F->tile_groups[g]);
}

// Per chunk: its active tiles, in tile order, from its first entry on
// (first site and extents: tiles.cuh phase_site).
//   min traffic: 256 B/thread (one chunk's flags; 8 B more per active tile)
GPUSIM_KERNEL void tiles_scatter(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 c = global_thread_index();
    if (c >= tile_n_chunks(P) || !F->tile_state[GPUSIM_TILE_REBUILD]) return;
    const u32 t1 = min((c + 1) << GPUSIM_TILE_CHUNK_SHIFT, P->n_tiles);
    u32 e = F->tile_chunks[c];
    for (u32 t = c << GPUSIM_TILE_CHUNK_SHIFT; t < t1; ++t)
        if (F->tile_flags[t]) {
            const tile_box b = tile_sites(P, t);
            F->tile_list[e] = b.x0 + P->nx * (b.y0 + P->ny * b.z0);
            F->tile_span[e++] = (b.x1 - b.x0) | (b.y1 - b.y0) << 4 | (b.z1 - b.z0) << 8;
        }
}

// observe_edge (observe.cu) with tiles on, one thread per entry of the list:
// the tumour cells on a closed boundary are in listed tiles, so only the
// listed tiles on a face of the box are read, and only their sites on it.
// The same count as observe_edge's, from a set of sites that holds every
// tumour cell on the boundary.
//   in:  tile_list, clone     out: counters[OBS_EDGE_CELLS]
//   min traffic: 4 B/thread (the list entry; clone only in tiles on a face)
GPUSIM_KERNEL void observe_edge_tiles(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 e = global_thread_index();
    u64 edge = 0;
    if (e < F->tile_state[GPUSIM_TILE_COUNT]) {
        const tile_box b = tile_sites(P, tile_of(P, F->tile_list[e]));
        const bool dim3 = P->field_dim == 3;
        if (b.x0 == 0 || b.x1 == P->nx || b.y0 == 0 || b.y1 == P->ny || (dim3 && (b.z0 == 0 || b.z1 == P->nz))) {
            for (u32 z = b.z0; z < b.z1; ++z)
                for (u32 y = b.y0; y < b.y1; ++y)
                    for (u32 x = b.x0; x < b.x1; ++x) {
                        const bool on_face = x == 0 || x == P->nx - 1 || y == 0 || y == P->ny - 1 ||
                                             (dim3 && (z == 0 || z == P->nz - 1));
                        edge += on_face && F->clone[x + P->nx * (y + P->ny * z)] != 0;
                    }
        }
    }
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_EDGE_CELLS], edge);
}

// The vessel list (tiles.cuh vessel_site), built once per run: vessels per
// chunk of sites, an exclusive prefix sum (one thread: once per run), then
// each chunk's vessel sites in site order.
__device__ __forceinline__ u32 vessel_n_chunks(const Params* P)
{
    return ((P->n_sites - 1) >> GPUSIM_VESSEL_CHUNK_SHIFT) + 1;
}

// Per chunk c of sites: vessel_chunks[c] = its vessel sites.
//   min traffic: 1 B/site (vessel)
GPUSIM_KERNEL void vessels_count(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 c = global_thread_index();
    if (c >= vessel_n_chunks(P)) return;
    const u32 i1 = min((c + 1) << GPUSIM_VESSEL_CHUNK_SHIFT, P->n_sites);
    u32 n = 0;
    for (u32 i = c << GPUSIM_VESSEL_CHUNK_SHIFT; i < i1; ++i) n += F->vessel[i] != 0;
    F->vessel_chunks[c] = n;
}

// One thread: vessel_chunks becomes each chunk's first entry; the total is
// tile_state[VESSELS].
//   min traffic: 8 B/thread (per chunk, read and written: one thread, once per run)
GPUSIM_KERNEL void vessels_scan(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    if (global_thread_index() != 0) return;
    F->tile_state[GPUSIM_TILE_VESSELS] = exclusive_scan(F->vessel_chunks, vessel_n_chunks(P), 0);
}

// Per chunk: its vessel sites, in site order, from its first entry on.
//   min traffic: 1 B/site (vessel) + 4 B per vessel
GPUSIM_KERNEL void vessels_scatter(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 c = global_thread_index();
    if (c >= vessel_n_chunks(P)) return;
    const u32 i1 = min((c + 1) << GPUSIM_VESSEL_CHUNK_SHIFT, P->n_sites);
    u32 e = F->vessel_chunks[c];
    for (u32 i = c << GPUSIM_VESSEL_CHUNK_SHIFT; i < i1; ++i)
        if (F->vessel[i]) F->vessel_list[e++] = i;
}
