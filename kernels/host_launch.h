// host_launch.h -- the cpu backend's grid launcher (host build only).
//
// Runs `nblocks` blocks of GPUSIM_BLOCK_SIZE threads of kernel `k` over an
// OpenMP loop.  Exported with C linkage so Python (ctypes) can call it with
// the kernel's function pointer, the same way CuPy launches the kernel on a
// GPU.  Static scheduling is fine: the answer never depends on it.
//
// Small grids (the chemokine field, small lattices) run on the calling
// thread: a parallel region costs microseconds, far more than a few thousand
// sites of work, and much more when cores are oversubscribed (MPI ranks x
// OpenMP threads).  The answer is the same either way.
#define GPUSIM_MIN_PARALLEL_BLOCKS 256  // 65536 sites
#pragma once
#ifndef __CUDACC__
#include <omp.h>

typedef void (*gpusim_kernel_fn)(const Params*, const Fields*);

extern "C" void gpusim_launch(gpusim_kernel_fn k, unsigned int nblocks, const Params* P, const Fields* F)
{
#pragma omp parallel for schedule(static) if (nblocks >= GPUSIM_MIN_PARALLEL_BLOCKS)
    for (long long b = 0; b < (long long)nblocks; ++b) {
        blockIdx.x = (unsigned int)b;
        for (unsigned int t = 0; t < GPUSIM_BLOCK_SIZE; ++t) {
            threadIdx.x = t;
            k(P, F);
        }
    }
}

extern "C" int gpusim_max_threads(void) { return omp_get_max_threads(); }
#endif
