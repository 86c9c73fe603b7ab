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
    agent_recruit(P, F, F->treg, F->chemokine, P->treg_recruit, global_thread_index(), GPUSIM_PHASE_TREG_RECRUIT,
                  GPUSIM_COUNTER_TREGS_RECRUITED);
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

// Migration phase 2, per site (a dense phase: from the target side, claim.cuh claim_commit): a
// Treg whose bid won its target moves there.
//   in:  claim, treg     out: treg (target set, source cleared), claim reset
//   rng: none
//   min traffic: 8 B/site (claim)
GPUSIM_KERNEL void treg_move_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_move_commit(P, F, F->treg, global_thread_index(), true, false);  // Tregs make no tile active: their phases run dense
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
    agent_death(P, F, F->treg, global_thread_index(), GPUSIM_PHASE_TREG_DEATH, P->p_treg_death, P->p_treg_deplete,
                P->p_chemo_tcell, GPUSIM_COUNTER_TREG_DEATHS, GPUSIM_OBS_TREGS);
}

// Observer (gpusim.components TREGS.observer), per site: the Tregs of a state
// no step has counted (step 0, a loaded checkpoint).
//   in:  treg     out: counters[OBS_TREGS]
//   rng: none
//   min traffic: 1 B/site (treg byte)
GPUSIM_KERNEL void treg_observe(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_observe(P, F, F->treg, global_thread_index(), GPUSIM_OBS_TREGS);
}
