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
#define GPUSIM_ARGS const Params* __restrict__ P, const Fields* __restrict__ F
