// agent.cuh -- cells that follow the T-cell pattern (DESIGN §10): one u8
// layer per kind (0 = none), entry at vessels, chemotactic moves through the
// claim protocol, lifespan.  The move rule is written once here and used by
// the CD8 T cells (tcell.cu) and the regulatory T cells (treg.cu).
#pragma once
#include "common.cuh"
#include "field.cuh"

// Is an agent of `layer` at site i (coordinates c) or at one of its neighbours?
__device__ __forceinline__ bool agent_near(const Params* P, const u8* layer, u32 i, site_xyz c)
{
    if (layer[i]) return true;
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && layer[j]) return true;
    }
    return false;
}

// Weight of a move to the neighbour at cj from a site where the attracting
// field (on the coarse grid) is ci.
__device__ __forceinline__ f32 agent_move_weight(const Params* P, const f32* field, site_xyz cj, f32 ci,
                                                 f32 chemotaxis)
{
    const f32 d = field[field_cell_of(P, cj)] - ci;
    return 1.0f + chemotaxis * (d > 0.0f ? d : 0.0f);
}

// Per-neighbour weights of a move: cached in the first pass on the host,
// where the arrays sit in L1 and each recomputation costs three integer
// divisions (field_cell_of) -- half the move's time at 1024^2.  On the GPU
// the second pass recomputes them: arrays indexed at run time would spill
// to local memory.  The same float32 values are summed in the same order
// either way, so both give the same bits.  (GPUSIM_HOST: the host build,
// host_shim.h.)

// Move `sub` of a step, phase 1, for the agent at site i of `layer`: it
// picks a neighbour with weight 1 + chemotaxis * max(0, c_j - c_i) (float32,
// neighbour order, sequential sums; c = `field`, the attracting field of the
// kind, agent_move_propose: the chemokine) and bids for it if
// that site of its layer is free, leaving its record at i (claim.cuh
// claim_propose_from: the commit runs from the source side).  Moves below
// full_moves are always made, move full_moves with probability p_partial
// (the fractional move).  HOLD (a template parameter, so a kind or a run
// without a hold layer compiles none of it): an agent with a cell of
// layer `hold` on its site or a neighbouring one stays put with threshold p_hold.
//   rng: (site, step, phase, sub): .x direction (top 24 bits), .y claim priority,
//        .z fractional move taken?, .w held (HOLD only)?
template <bool HOLD>
__device__ __forceinline__ void agent_move_propose_on(const Params* P, const Fields* F, const f32* field,
                                                      const u8* layer, u32 i, u32 sub, u32 phase, u32 full_moves,
                                                      u32 p_partial, f32 chemotaxis, const u8* hold, u32 p_hold)
{
    if (!layer[i]) return;
    const philox_u32x4 r = draw(P, i, phase, sub);
    if (sub >= full_moves && r.z >= p_partial) return;
    const site_xyz c = site_coords(P, i);
    if (HOLD && r.w < p_hold && agent_near(P, hold, i, c)) return;
    const f32 ci = field[field_cell_of(P, c)];
    // Two passes over the neighbours (the total, then the pick), each weight
    // computed the same way in both (or cached, above).
#ifdef GPUSIM_HOST
    f32 weight[GPUSIM_MAX_NEIGHBOURS];
    u32 site[GPUSIM_MAX_NEIGHBOURS];
    u32 n = 0;
#endif
    f32 total = 0.0f;
    for (u32 k = 0; k < P->n_nbr; ++k) {
        site_xyz cj;
        const u32 j = neighbour_at(P, c, k, &cj);
        if (j == GPUSIM_NO_SITE) continue;
        const f32 w = agent_move_weight(P, field, cj, ci, chemotaxis);
        total = total + w;
#ifdef GPUSIM_HOST
        weight[n] = w;
        site[n++] = j;
#endif
    }
    // (word >> 8) * 2^-24 is exact in float32: a uniform in [0, 1).
    const f32 x = ((f32)(r.x >> 8) * 5.9604644775390625e-08f) * total;
    f32 cum = 0.0f;
    u32 chosen = GPUSIM_NO_SITE;
#ifdef GPUSIM_HOST
    for (u32 m = 0; m < n; ++m) {
        cum = cum + weight[m];
        chosen = site[m];  // the last neighbour if rounding leaves x >= cum
        if (x < cum) break;
    }
#else
    for (u32 k = 0; k < P->n_nbr; ++k) {
        site_xyz cj;
        const u32 j = neighbour_at(P, c, k, &cj);
        if (j == GPUSIM_NO_SITE) continue;
        cum = cum + agent_move_weight(P, field, cj, ci, chemotaxis);
        chosen = j;  // the last neighbour if rounding leaves x >= cum
        if (x < cum) break;
    }
#endif
    if (chosen != GPUSIM_NO_SITE && !layer[chosen])
        claim_propose_from(F, chosen, r.y, i);
}

// The move up the chemokine (CD8 T cells, Tregs), held beside a cell of
// `hold` where one is given: the run's choice picks the instantiation.
__device__ __forceinline__ void agent_move_propose(const Params* P, const Fields* F, const u8* layer, u32 i, u32 sub,
                                                   u32 phase, u32 full_moves, u32 p_partial, f32 chemotaxis,
                                                   const u8* hold = nullptr, u32 p_hold = 0)
{
    if (hold)
        agent_move_propose_on<true>(P, F, F->chemokine, layer, i, sub, phase, full_moves, p_partial, chemotaxis, hold,
                                    p_hold);
    else
        agent_move_propose_on<false>(P, F, F->chemokine, layer, i, sub, phase, full_moves, p_partial, chemotaxis,
                                     nullptr, 0);
}

// Entry at vessel site i (i < n_sites checked here): an empty vessel site of
// `layer` gains an agent with the threshold table[level of `field` there]
// (field.cuh chemokine_level: the levels of the T cells' recruitment).
//   rng: (site, step, phase, 0).x enter?
__device__ __forceinline__ void agent_recruit(const Params* P, const Fields* F, u8* layer, const f32* field,
                                              const u32* table, u32 i, u32 phase, u32 counter)
{
    if (i >= P->n_sites || !F->vessel[i] || layer[i]) return;
    const f32 c = field[field_cell_of(P, site_coords(P, i))];
    if (draw(P, i, phase, 0).x < table[chemokine_level(P, c)]) {
        layer[i] = 1;
        atomic_add_same(&F->counters[counter], 1ull);
    }
}

// Death of the agent at site i of `layer` (i < n_sites checked here): its
// lifespan (p_death), a depleting therapy's level of the step (p_deplete), a
// chemotherapy pulse (p_chemo).  Counts the deaths and the survivors (the
// kind's state observable).
//   rng: (site, step, phase, 0): .x death?, .y depleted?, .z chemotherapy?
__device__ __forceinline__ void agent_death(const Params* P, const Fields* F, u8* layer, u32 i, u32 phase,
                                            u32 p_death, u32 p_deplete, u32 p_chemo, u32 deaths, u32 alive)
{
    if (i >= P->n_sites || !layer[i]) return;
    const philox_u32x4 r = draw(P, i, phase, 0);
    if (r.x < p_death || r.y < p_deplete || r.z < p_chemo) {
        layer[i] = 0;
        atomic_add_same(&F->counters[deaths], 1ull);
    } else {
        atomic_add_same(&F->counters[alive], 1ull);
    }
}

// The agents of `layer` at site i, added into counters[slot] (a state no step has counted).
__device__ __forceinline__ void agent_observe(const Params* P, const Fields* F, const u8* layer, u32 i, u32 slot)
{
    atomic_add_warp_sum(&F->counters[slot], i < P->n_sites && layer[i] ? 1ull : 0ull);
}

// Move phase 2, at site g of the launch (claim.cuh claim_commit: from the
// target side where the launch visits every site, `every_site`, else from
// the source side): an agent whose bid won its target moves there.
// `touch`: the layer makes tiles active (tiles.cuh), so the target's tile
// joins the list.
__device__ __forceinline__ void agent_move_commit(const Params* P, const Fields* F, u8* layer, u32 g, bool every_site,
                                                  bool touch)
{
    u32 s, j;
    if (!claim_commit(P, F, g, every_site, &s, &j)) return;
    layer[j] = layer[s];
    layer[s] = 0;
    if (touch) tile_touch(P, F, j);
}

