// tcell.cuh -- the T-cell byte (abi.cuh: PRESENT | exhaustion << 4 | kills
// left) and the rule for a T cell that can still kill: shared by the T-cell
// rules (tcell.cu) and the observables (observe.cu).
#pragma once
#include "abi.cuh"

__device__ __forceinline__ u8 tcell_byte(u32 kills, u32 exhaustion)
{
    return (u8)(GPUSIM_TCELL_PRESENT | (exhaustion << GPUSIM_TCELL_EXHAUSTION_SHIFT) | kills);
}

// PD-L1 contacts raise it (tcell_kill), re-invigoration lowers it (tcell_death).
__device__ __forceinline__ u32 tcell_exhaustion_level(u8 t)
{
    return (u32)(t >> GPUSIM_TCELL_EXHAUSTION_SHIFT) & GPUSIM_TCELL_EXHAUSTION_MAX;
}

__device__ __forceinline__ bool tcell_can_kill(const Params* P, u8 t)
{
    return (t & GPUSIM_TCELL_KILLS_MASK) != 0 && tcell_exhaustion_level(t) < P->exhaustion_threshold;
}
