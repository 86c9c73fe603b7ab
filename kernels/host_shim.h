// host_shim.h -- lets the CUDA kernels in this folder compile as plain C++.
//
// Included only when __CUDACC__ is not defined (g++/clang++ building the cpu
// backend).  NVRTC defines __CUDACC__, so the GPU build never sees this file.
//
// Kernels here are per-site (per-agent) functions: no shared memory, no
// __syncthreads.  Warp intrinsics (__match_any_sync, __shfl_sync, ... for
// the aggregated atomics of common.cuh) appear only behind __CUDACC__; the
// host build takes the plain form.  That is what makes this shim small: a
// "thread" is one call of the kernel function with thread-local blockIdx and
// threadIdx, and the grid's blocks are spread over an OpenMP parallel loop
// (see host_launch.h).  Results do not depend on how blocks are scheduled
// because kernels only communicate through integer atomics whose final value
// is order-independent (atomicAdd, atomicMin).
#pragma once
#ifndef __CUDACC__

#include <cstring>

#define GPUSIM_HOST 1
#define __global__
#define __device__
#define __host__
// As nvcc/NVRTC do: a device function is inlined into its kernel.  A plain
// `inline` leaves GCC free to call a large one (agent_move_propose_on) per
// site from the launcher's loop, with its arguments spilled each time.
#define __forceinline__ inline __attribute__((always_inline))

struct gpusim_dim3 { unsigned int x, y, z; };

// One OpenMP thread runs one block at a time, so the indices are per thread.
static thread_local gpusim_dim3 blockIdx __attribute__((tls_model("initial-exec"))) = {0, 0, 0};
static thread_local gpusim_dim3 threadIdx __attribute__((tls_model("initial-exec"))) = {0, 0, 0};
static const gpusim_dim3 blockDim = {GPUSIM_BLOCK_SIZE, 1, 1};

static inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }

static inline unsigned int __umulhi(unsigned int a, unsigned int b)
{
    return (unsigned int)(((unsigned long long)a * (unsigned long long)b) >> 32);
}

static inline float __uint_as_float(unsigned int u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// CUDA has no native 64-bit atomicMin on every arch we target through the
// host path; a compare-and-swap loop gives the same final value.
static inline unsigned long long atomicMin(unsigned long long* addr, unsigned long long val)
{
    unsigned long long old = __atomic_load_n(addr, __ATOMIC_RELAXED);
    while (val < old &&
           !__atomic_compare_exchange_n(addr, &old, val, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}

static inline unsigned int atomicAdd(unsigned int* addr, unsigned int val)
{
    return __atomic_fetch_add(addr, val, __ATOMIC_RELAXED);
}

static inline unsigned long long atomicAdd(unsigned long long* addr, unsigned long long val)
{
    return __atomic_fetch_add(addr, val, __ATOMIC_RELAXED);
}

static inline unsigned char atomic_or_u8(unsigned char* addr, unsigned char val)
{
    return __atomic_fetch_or(addr, val, __ATOMIC_RELAXED);
}

#endif  // __CUDACC__
