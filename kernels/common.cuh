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

// Kernels have C linkage so CuPy's RawModule and ctypes find them by name.
#define GPUSIM_KERNEL extern "C" __global__

// A launch covers every run of a batch (cohort): blockIdx.y is the run, and
// the kernel gets one Params and one Fields record per run.  `substep` is
// the same for every run of the launch (diffusion or migration substep), so
// it is an argument rather than a Params field: no upload per substep.
#define GPUSIM_ARGS const Params* __restrict__ P_runs, const Fields* __restrict__ F_runs, const u32 substep

// First statement of every kernel: bind P and F to this block's run, so
// kernel bodies read one run's parameters and arrays as if it were alone.
#define GPUSIM_BIND_RUN                                          \
    const Params* __restrict__ P = P_runs + blockIdx.y;         \
    const Fields* __restrict__ F = F_runs + blockIdx.y;         \
    (void)P; (void)F; (void)substep
