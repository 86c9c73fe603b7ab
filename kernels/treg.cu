// treg.cu -- regulatory T cells (the tregs component, off by default): entry
// at vessels drawn by the chemokine, chemotactic moves through the claim
// protocol (agent.cuh), lifespan, depletion by anti-CTLA-4.  NumPy twin:
// gpusim/reference/treg.py.  Host side: gpusim/engine/treg.py.
//
// Treg byte: 1 = a regulatory T cell here, 0 = none (a layer of its own: a
// Treg may share a site with a tumour cell and a CD8 T cell).
//
// Coupled rule elsewhere (DESIGN §9: in the phase that applies it):
// tcell_kill (kernels/tcell.cu) -- a CD8 T cell with a Treg on its site or a
// neighbouring one (contact) kills with p_treg_pass of its usual
// probability, and expands after a kill with p_treg_pass of its usual one.
#include "common.cuh"
#include "field.cuh"
#include "agent.cuh"

// Philox phase ids of this component (ctr.z; philox.cuh: unique, never renumbered).
#define GPUSIM_PHASE_TREG_RECRUIT 31   // x: vessel site; .x recruit a Treg?
#define GPUSIM_PHASE_TREG_MIGRATE 32   // x: Treg site, w: move substep; .x direction, .y claim priority, .z fractional move?
#define GPUSIM_PHASE_TREG_DEATH 33     // x: Treg site; .x death?, .y depleted (anti-CTLA-4)?, .z chemotherapy death?

// Recruitment: an empty vessel site (no Treg) gains a Treg with a
// probability that saturates in the local chemokine (table treg_recruit).
//   in:  vessel, treg, chemokine     out: treg, counters[TREGS_RECRUITED]
//   rng: (site, step, TREG_RECRUIT, 0).x recruit?
//   min traffic: 1 B/site (vessel byte; the rest only at vessels)
GPUSIM_KERNEL void treg_recruit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    if (!F->vessel[i] || F->treg[i]) return;
    const f32 c = F->chemokine[field_cell_of(P, site_coords(P, i))];
    if (draw(P, i, GPUSIM_PHASE_TREG_RECRUIT, 0).x < P->treg_recruit[chemokine_level(P, c)]) {
        F->treg[i] = 1;
        atomic_add_same(&F->counters[GPUSIM_COUNTER_TREGS_RECRUITED], 1ull);
    }
}

// Migration move `sub` (of this run's treg_n_moves), phase 1 (agent.cuh).
//   in:  treg, chemokine     out: claim (bids and their records)
//   rng: (site, step, TREG_MIGRATE, sub): .x direction, .y priority, .z fractional move?
//   min traffic: 1 B/site (treg byte; the rest only at Tregs)
GPUSIM_KERNEL void treg_move_propose(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites || sub >= P->treg_n_moves) return;
    agent_move_propose(P, F, F->treg, i, sub, GPUSIM_PHASE_TREG_MIGRATE, P->treg_full_moves, P->p_treg_partial_move,
                       P->treg_chemotaxis);
}

// Migration phase 2, per Treg site (from the source side, claim.cuh): a
// Treg whose bid won its target moves there.
//   in:  claim, treg     out: treg (target set, source cleared), claim reset
//   rng: none
//   min traffic: 8 B/site (claim)
GPUSIM_KERNEL void treg_move_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_move_commit(P, F, F->treg, global_thread_index(), false);  // Tregs make no tile active: their phases run dense
}

// Death: lifespan, anti-CTLA-4 depletion (p_treg_deplete, the therapy's
// level of the step), chemotherapy pulses (p_chemo_tcell).  Counts the
// survivors (the step's Treg observable).
//   in:  treg     out: treg, counters[TREG_DEATHS], counters[OBS_TREGS]
//   rng: (site, step, TREG_DEATH, 0): .x death?, .y depleted?, .z chemotherapy?
//   min traffic: 1 B/site (treg byte)
GPUSIM_KERNEL void treg_death(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites || !F->treg[i]) return;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_TREG_DEATH, 0);
    if (r.x < P->p_treg_death || r.y < P->p_treg_deplete || r.z < P->p_chemo_tcell) {
        F->treg[i] = 0;
        atomic_add_same(&F->counters[GPUSIM_COUNTER_TREG_DEATHS], 1ull);
    } else {
        atomic_add_same(&F->counters[GPUSIM_OBS_TREGS], 1ull);
    }
}

// Observer (gpusim.components TREGS.observer), per site: the Tregs of a state
// no step has counted (step 0, a loaded checkpoint).
//   in:  treg     out: counters[OBS_TREGS]
//   rng: none
//   min traffic: 1 B/site (treg byte)
GPUSIM_KERNEL void treg_observe(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    atomic_add_warp_sum(&F->counters[GPUSIM_OBS_TREGS], i < P->n_sites && F->treg[i] ? 1ull : 0ull);
}
