// common.cuh -- included first by every kernel source.
#pragma once
#ifndef __CUDACC__
#include "host_shim.h"
#endif
#include "abi.cuh"

#ifdef __CUDACC__
// Byte-wide atomic OR: CUDA has only 32-bit atomicOr, so OR the byte's lane
// into its aligned word (device arrays are at least 256-byte aligned, so the
// word never leaves the allocation).  Little-endian lane order.
__device__ __forceinline__ unsigned char atomic_or_u8(unsigned char* addr, unsigned char val)
{
    const unsigned long long a = (unsigned long long)addr;
    unsigned int* word = (unsigned int*)(a & ~3ull);
    const unsigned int shift = (unsigned int)(a & 3ull) * 8u;
    return (unsigned char)(atomicOr(word, (unsigned int)val << shift) >> shift);
}
#endif

#include "philox.cuh"
#include "lattice.cuh"
#include "claim.cuh"
#include "tiles.cuh"

// Aggregated atomics (DESIGN §7): on the GPU, the threads of a warp that add
// to the same address at once (an event counter, the population of a big
// clone) combine their adds first, so one atomic per warp reaches global
// memory instead of 32 queued ones.  The host shim adds directly.  Integer
// sums, so the result is the same whatever the grouping.
//
// atomic_add_same: every thread of the call that names the same address adds
// the same v (a +1 counter, a -1 population).
#ifdef __CUDACC__
__device__ __forceinline__ void atomic_add_same(unsigned long long* addr, unsigned long long v)
{
    const unsigned int peers = __match_any_sync(__activemask(), (unsigned long long)addr);
    if ((int)(threadIdx.x & 31u) == __ffs(peers) - 1) atomicAdd(addr, v * (unsigned long long)__popc(peers));
}
__device__ __forceinline__ void atomic_add_same(unsigned int* addr, unsigned int v)
{
    const unsigned int peers = __match_any_sync(__activemask(), (unsigned long long)addr);
    if ((int)(threadIdx.x & 31u) == __ffs(peers) - 1) atomicAdd(addr, v * (unsigned int)__popc(peers));
}
// atomic_add_warp_sum: every thread of every full warp calls it (no early
// return before it); a shuffle tree sums the warp's values.
__device__ __forceinline__ void atomic_add_warp_sum(unsigned long long* addr, unsigned long long v)
{
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if ((threadIdx.x & 31u) == 0 && v) atomicAdd(addr, v);
}
#else
static inline void atomic_add_same(unsigned long long* addr, unsigned long long v) { atomicAdd(addr, v); }
static inline void atomic_add_same(unsigned int* addr, unsigned int v) { atomicAdd(addr, v); }
static inline void atomic_add_warp_sum(unsigned long long* addr, unsigned long long v)
{
    if (v) atomicAdd(addr, v);
}
#endif

// In place, one thread, in index order: a[k] becomes start + a[0] + ... +
// a[k-1] (an exclusive prefix sum); returns start + the sum of all n.  The
// serial step of the site-order numberings (tumour.cu founding, tiles.cu
// lists), on arrays 2^8..2^10 times shorter than what they number.
__device__ __forceinline__ u32 exclusive_scan(u32* a, u32 n, u32 start)
{
    u32 run = start;
    for (u32 k = 0; k < n; ++k) {
        const u32 v = a[k];
        a[k] = run;
        run += v;
    }
    return run;
}

// Kernels have C linkage so CuPy's RawModule and ctypes find them by name.
// `sub` is a per-launch number passed by value with the launch (the substep
// of a diffusion or T-cell move; the rows of observe_clones; 0 when unused),
// so it costs no host-to-device copy of Params.
//
// A launch covers every run of a batch (a cohort, gpusim/batch.py):
// blockIdx.y is the run, and the kernel gets one Params and one Fields
// record per run.  `sub` is the same for every run of the launch.
#define GPUSIM_KERNEL extern "C" __global__
#define GPUSIM_ARGS const Params* __restrict__ P_runs, const Fields* __restrict__ F_runs, const u32 sub

// First statement of every kernel: bind P and F to this block's run, so a
// kernel body reads one run's parameters and arrays as if it were alone.
// (The void reads keep NVRTC quiet in a kernel that needs only one of them;
// the compiler drops them.)
#define GPUSIM_BIND_RUN                                          \
    const Params* __restrict__ P = P_runs + blockIdx.y;         \
    const Fields* __restrict__ F = F_runs + blockIdx.y;         \
    (void)P->n_sites; (void)F->counters; (void)sub
