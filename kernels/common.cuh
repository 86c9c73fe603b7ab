// common.cuh -- included first by every kernel source.
#pragma once
#ifndef __CUDACC__
#include "host_shim.h"
#endif
#include "abi.cuh"
#include "philox.cuh"
#include "lattice.cuh"

// Kernels have C linkage so CuPy's RawModule and ctypes find them by name.
#define GPUSIM_KERNEL extern "C" __global__
#define GPUSIM_ARGS const Params* __restrict__ P, const Fields* __restrict__ F
