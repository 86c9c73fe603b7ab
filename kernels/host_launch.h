// host_launch.h -- the cpu backend's grid launcher (host build only).
//
// Runs a grid of `nblocks` x `nruns` blocks of GPUSIM_BLOCK_SIZE threads of
// a kernel over one OpenMP loop: blockIdx.x = block within a run, blockIdx.y
// = run of the batch (as on the GPU).  Exported with C linkage, one launcher
// per kernel, so Python (ctypes) launches a kernel by name, the same way
// CuPy does on a GPU.  Static scheduling is fine: the answer never depends
// on it.
//
// Small grids (the chemokine field, small lattices) run on the calling
// thread: a parallel region costs microseconds, far more than a few thousand
// sites of work, and much more when cores are oversubscribed (MPI ranks x
// OpenMP threads).  The answer is the same either way.  A batch of small
// runs is one big grid: that is what lets small runs use every core.
#define GPUSIM_MIN_PARALLEL_BLOCKS 256  // 65536 sites
#pragma once
#ifndef __CUDACC__
#include <omp.h>

#include <algorithm>
#include <vector>

typedef void (*gpusim_kernel_fn)(const Params*, const Fields*, u32);

// The kernel is a template argument, so the compiler sees its body inside
// the thread loop; `flatten` makes it inline it there (GCC otherwise calls
// the larger kernels once per site, a prologue and the Params/Fields
// binding per call).
template <gpusim_kernel_fn K>
__attribute__((flatten)) static void gpusim_run_blocks(unsigned int nblocks, unsigned int nruns, const Params* P, const Fields* F, u32 sub)
{
    const long long total = (long long)nblocks * (long long)nruns;
#pragma omp parallel for schedule(static) if (total >= GPUSIM_MIN_PARALLEL_BLOCKS)
    for (long long g = 0; g < total; ++g) {
        blockIdx.y = (unsigned int)(g / nblocks);
        blockIdx.x = (unsigned int)(g % nblocks);
        for (unsigned int t = 0; t < GPUSIM_BLOCK_SIZE; ++t) {
            threadIdx.x = t;
            K(P, F, sub);
        }
    }
}

// Over the active tiles (tiles.cuh): `per_entry` threads for each entry of
// each run's list (64 for a per-site phase, 1 for tiles_sweep), whose
// length is tile_state[slot] (COUNT; VESSELS for the vessel list).  The
// host reads each run's length where the kernels wrote it (host memory: no
// copy), and runs only the blocks that cover it -- what the GPU does by an
// early return in the blocks past the list.
template <gpusim_kernel_fn K>
__attribute__((flatten)) static void gpusim_run_tiles(unsigned int per_entry, unsigned int slot, unsigned int nruns, const Params* P,
                             const Fields* F, u32 sub)
{
    std::vector<long long> first(nruns + 1, 0);
    for (unsigned int r = 0; r < nruns; ++r) {
        const u32 count = F[r].tile_state[slot];
        // A per-site phase with most tiles listed visits every site (tiles.cuh phase_site).
        const bool dense = per_entry == GPUSIM_TILE_SITES && count >= P[r].tiles_dense_from;
        const long long threads = dense ? (long long)P[r].n_sites : (long long)count * per_entry;
        first[r + 1] = first[r] + (threads + GPUSIM_BLOCK_SIZE - 1) / GPUSIM_BLOCK_SIZE;
    }
    const long long total = first[nruns];
    // Listed tiles hold cells: a block here is real work, unlike a dense
    // block of mostly empty sites, so fewer blocks are worth the threads.
#pragma omp parallel for schedule(static) if (total >= GPUSIM_MIN_PARALLEL_BLOCKS / 16)
    for (long long g = 0; g < total; ++g) {
        // The run whose blocks hold g: the last r with first[r] <= g.
        const unsigned int r = (unsigned int)(std::upper_bound(first.begin() + 1, first.end(), g) - first.begin() - 1);
        blockIdx.y = r;
        blockIdx.x = (unsigned int)(g - first[r]);
        for (unsigned int t = 0; t < GPUSIM_BLOCK_SIZE; ++t) {
            threadIdx.x = t;
            K(P, F, sub);
        }
    }
}

// Exported launchers per kernel, gpusim_launch_<kernel>(nblocks, nruns, P, F, sub)
// and gpusim_launch_tiles_<kernel>(per_entry, slot, nruns, P, F, sub):
// gpusim/engine/host_build.py appends GPUSIM_HOST_LAUNCHER(name) for every
// kernel of the sources.
#define GPUSIM_HOST_LAUNCHER(name)                                                                   \
    extern "C" void gpusim_launch_##name(unsigned int nblocks, unsigned int nruns, const Params* P,  \
                                         const Fields* F, u32 sub)                                   \
    {                                                                                                \
        gpusim_run_blocks<name>(nblocks, nruns, P, F, sub);                                          \
    }                                                                                                \
    extern "C" void gpusim_launch_tiles_##name(unsigned int per_entry, unsigned int slot,            \
                                               unsigned int nruns, const Params* P, const Fields* F, \
                                               u32 sub)                                              \
    {                                                                                                \
        gpusim_run_tiles<name>(per_entry, slot, nruns, P, F, sub);                                   \
    }

extern "C" int gpusim_max_threads(void) { return omp_get_max_threads(); }

// Tests only: switch the calling thread and every OpenMP thread into (on=1)
// or out of (on=0) the GPU's float mode, flush-to-zero + denormals-are-zero,
// so the cpu backend can show that results do not depend on it (CuPy builds
// the GPU kernels with -ftz=true).  Returns 0 where unsupported (not x86-64).
#if defined(__x86_64__)
#include <xmmintrin.h>
extern "C" int gpusim_set_flush_subnormals(int on)
{
    const unsigned int bits = 0x8040u;  // MXCSR FTZ (bit 15) | DAZ (bit 6)
    const unsigned int want = on ? bits : 0u;
    _mm_setcsr((_mm_getcsr() & ~bits) | want);
#pragma omp parallel
    _mm_setcsr((_mm_getcsr() & ~bits) | want);
    return 1;
}
#else
extern "C" int gpusim_set_flush_subnormals(int) { return 0; }
#endif
#endif
