// myeloid.cu -- myeloid suppressor cells (the myeloid component, off by
// default; MDSC / M2-like macrophages): entry at vessels drawn by the CCL2
// field (the ccl2 component), chemotactic moves up CCL2 through the claim
// protocol, lifespan; all three rules are agent.cuh's, shared with the
// regulatory T cells.  NumPy twin: gpusim/reference/myeloid.py.  Host side:
// gpusim/engine/myeloid.py.
//
// Myeloid byte: 1 = a myeloid suppressor here, 0 = none (a layer of its own:
// it may share a site with a tumour cell, a CD8 T cell and a Treg).
//
// Coupled rule elsewhere (DESIGN §9: in the phase that applies it):
// tcell_kill (kernels/tcell.cu) -- a CD8 T cell with a myeloid suppressor on
// its site or a neighbouring one (contact) kills with p_myeloid_pass of its
// usual probability, and expands after a kill with p_myeloid_pass of its
// usual one (draw 3, after the Treg and hypoxia draw).
#include "common.cuh"
#include "field.cuh"
#include "agent.cuh"

// Philox phase ids of this component (ctr.z; philox.cuh: unique, never renumbered).
#define GPUSIM_PHASE_MYELOID_RECRUIT 35    // x: vessel site; .x recruit a myeloid suppressor?
#define GPUSIM_PHASE_MYELOID_MIGRATE 36    // x: myeloid site, w: move substep; .x direction, .y claim priority, .z fractional move?
#define GPUSIM_PHASE_MYELOID_DEATH 37      // x: myeloid site; .x death?, .y depleted (CSF1R inhibition)?, .z chemotherapy death?

// Recruitment: an empty vessel site (no myeloid cell) gains one with a
// probability that saturates in the local CCL2 (table myeloid_recruit, on the
// T cells' recruitment levels).
//   in:  vessel, myeloid, ccl2     out: myeloid, counters[MYELOID_RECRUITED]
//   rng: (site, step, MYELOID_RECRUIT, 0).x recruit?
//   min traffic: 1 B/site (vessel byte; the rest only at vessels)
GPUSIM_KERNEL void myeloid_recruit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_recruit(P, F, F->myeloid, F->field_value[P->myeloid_field], P->myeloid_recruit, global_thread_index(),
                  GPUSIM_PHASE_MYELOID_RECRUIT, GPUSIM_COUNTER_MYELOID_RECRUITED);
}

// Migration move `sub` (of this run's myeloid_n_moves), phase 1 (agent.cuh),
// up the CCL2 field.
//   in:  myeloid, ccl2     out: claim (bids and their records)
//   rng: (site, step, MYELOID_MIGRATE, sub): .x direction, .y priority, .z fractional move?
//   min traffic: 1 B/site (myeloid byte; the rest only at myeloid cells)
GPUSIM_KERNEL void myeloid_move_propose(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites || sub >= P->myeloid_n_moves) return;
    agent_move_propose_on<false>(P, F, F->field_value[P->myeloid_field], F->myeloid, i, sub,
                                 GPUSIM_PHASE_MYELOID_MIGRATE, P->myeloid_full_moves, P->p_myeloid_partial_move,
                                 P->myeloid_chemotaxis, nullptr, 0);
}

// Migration phase 2, per site (a dense phase: from the target side, claim.cuh claim_commit).
//   in:  claim, myeloid     out: myeloid (target set, source cleared), claim reset
//   rng: none
//   min traffic: 8 B/site (claim)
GPUSIM_KERNEL void myeloid_move_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_move_commit(P, F, F->myeloid, global_thread_index(), true, false);  // no tile made active: dense phases
}

// Death: lifespan, CSF1R inhibition (p_myeloid_deplete, the therapy's level
// of the step), chemotherapy pulses (p_chemo_tcell).  Counts the survivors.
//   in:  myeloid     out: myeloid, counters[MYELOID_DEATHS], counters[OBS_MYELOID_CELLS]
//   rng: (site, step, MYELOID_DEATH, 0): .x death?, .y depleted?, .z chemotherapy?
//   min traffic: 1 B/site (myeloid byte)
GPUSIM_KERNEL void myeloid_death(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_death(P, F, F->myeloid, global_thread_index(), GPUSIM_PHASE_MYELOID_DEATH, P->p_myeloid_death,
                P->p_myeloid_deplete, P->p_chemo_tcell, GPUSIM_COUNTER_MYELOID_DEATHS, GPUSIM_OBS_MYELOID_CELLS);
}

// Observer (gpusim.components MYELOID.observer), per site: the myeloid cells
// of a state no step has counted (step 0, a loaded checkpoint).
//   in:  myeloid     out: counters[OBS_MYELOID_CELLS]
//   rng: none
//   min traffic: 1 B/site (myeloid byte)
GPUSIM_KERNEL void myeloid_observe(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_observe(P, F, F->myeloid, global_thread_index(), GPUSIM_OBS_MYELOID_CELLS);
}
