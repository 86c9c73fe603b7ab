// tcell.cu -- the T-cell layer: recruitment at vessels, adoptive transfer,
// killing (with PD-L1 suppression, exhaustion and HLA loss), expansion after
// a kill, chemotactic migration, death.  NumPy twin: gpusim/reference/tcell.py.
// Host side (launch order): gpusim/engine/tcell.py.
//
// T-cell byte: PRESENT | exhaustion << 4 | kills left (abi.cuh).  A T cell
// "can kill" while it has kills left and exhaustion < threshold.
#include "common.cuh"
#include "field.cuh"
#include "tcell.cuh"
#include "agent.cuh"

// Candidates for a kill: the T cell's own site first (if it holds a tumour
// cell), then the neighbours with tumour cells, in neighbour order.
__device__ __forceinline__ u32 nth_tumour_candidate(const Params* P, const Fields* F, u32 i, site_xyz c, u32 nth)
{
    if (F->clone[i] != 0) {
        if (nth == 0) return i;
        --nth;
    }
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && F->clone[j] != 0) {
            if (nth == 0) return j;
            --nth;
        }
    }
    return GPUSIM_NO_SITE;  // unreachable when nth < the candidate count
}

__device__ __forceinline__ u32 count_free_tcell_neighbours(const Params* P, const Fields* F, site_xyz c)
{
    u32 n = 0;
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && !F->tcell[j]) ++n;
    }
    return n;
}

__device__ __forceinline__ u32 nth_free_tcell_neighbour(const Params* P, const Fields* F, site_xyz c, u32 nth)
{
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && !F->tcell[j]) {
            if (nth == 0) return j;
            --nth;
        }
    }
    return GPUSIM_NO_SITE;
}

// The entry threshold at chemokine `level`: the unprimed table plus the
// step's priming fraction (recruit_priming / 2^32, 0..1) of the way to the
// fully primed one -- integer arithmetic, the same on every backend
// (reference/tcell.py recruit_threshold).  recruit_primed >= recruit.
__device__ __forceinline__ u32 recruit_threshold(const Params* P, u32 level)
{
    const u32 lo = P->recruit[level];
    return lo + (u32)(((u64)(P->recruit_primed[level] - lo) * P->recruit_priming) >> 32);
}

// Recruitment: an empty vessel site gains a fresh T cell with a probability
// that saturates in the local chemokine (tables from the host, vaccine
// multiplier included; anti-CTLA-4 priming by recruit_threshold).  A myeloid
// suppressor on or beside the vessel (myeloid_on) blocks the entry with p_myeloid_block.
//   in:  vessel, tcell, chemokine (myeloid when myeloid_on)     out: tcell, counters[RECRUITED]
//   rng: (site, step, RECRUIT, 0): .x recruit?, .y blocked by a perivascular myeloid cell?
//   min traffic: 1 B/site (vessel byte; the rest only at vessels)
GPUSIM_KERNEL void tcell_recruit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = vessel_site(P, F);
    if (i >= P->n_sites) return;
    if (!F->vessel[i] || F->tcell[i]) return;
    const f32 c = F->chemokine[field_cell_of(P, site_coords(P, i))];
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_RECRUIT, 0);
    // Myeloid suppressors (kernels/myeloid.cu, when on): one on the vessel
    // site or beside it (perivascular) blocks the entry with p_myeloid_block.
    if (P->myeloid_on && r.y < P->p_myeloid_block && agent_near(P, F->myeloid, i, site_coords(P, i))) return;
    if (r.x < recruit_threshold(P, chemokine_level(P, c))) {
        F->tcell[i] = tcell_byte(P->kills_per_tcell, 0);
        tile_touch(P, F, i);
        atomic_add_same(&F->counters[GPUSIM_COUNTER_RECRUITED], 1ull);
    }
}

// Adoptive transfer, step 1: every eligible site (no T cell; with a tumour
// cell when P->transfer_where_tumour) bids claim_bid(priority, site) in claim[];
// the host keeps the lowest n bids (a sort: deterministic, keys are unique).
//   in:  tcell, clone      out: claim (every site written)
//   rng: (site, step, TRANSFER, 0).x
//   min traffic: 13 B/site (tcell 1, clone 4 read; claim 8 written)
GPUSIM_KERNEL void tcell_transfer_bid(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = global_thread_index();
    if (i >= P->n_sites) return;
    const bool ok = !F->tcell[i] && (!P->transfer_where_tumour || F->clone[i] != 0);
    F->claim[i] = ok ? claim_bid(draw(P, i, GPUSIM_PHASE_TRANSFER, 0).x, i) : GPUSIM_NO_BID;
}

// Adoptive transfer, step 2: one thread per chosen site (new_sites[k]).
//   out: tcell, counters[TRANSFERRED]      rng: none
//   min traffic: 5 B/thread (new_sites 4 read, tcell 1 written)
GPUSIM_KERNEL void tcell_transfer_place(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 k = global_thread_index();
    if (k >= P->n_new) return;
    F->tcell[F->new_sites[k]] = tcell_byte(P->kills_per_tcell, 0);
    tile_touch(P, F, F->new_sites[k]);
    atomic_add_same(&F->counters[GPUSIM_COUNTER_TRANSFERRED], 1ull);
}

// Killing, per T cell that can kill.  With probability p_kill_attempt it
// engages one tumour cell chosen uniformly among its own site and its
// neighbours (in that order).  HLA-lost clones are invisible.  The kill
// succeeds with probability r(clone), times p_pdl1_pass = 1 - s(1 - blockade)
// if the clone is PD-L1 high or the cell's PD-L1 is IFN-gamma-induced; meeting PD-L1 also raises exhaustion with
// probability p_exhaust = p(1 - blockade).  A kill flags the target
// (idempotent), spends one kill, and with p_expand the T cell bids for a
// free T-layer neighbour to divide into (two-phase, tcell_expand_commit).
//   A Treg in contact (treg_on) passes the kill and the expansion each with p_treg_pass;
//   a hypoxic target (o2_on) passes the kill with p_hypoxic_kill_pass; then a myeloid
//   suppressor in contact (myeloid_on) passes the kill and the expansion each with p_myeloid_pass.
//   in:  tcell, clone, clone_flags, clone_recognition (pdl1_induced when ifng_on, treg when
//        treg_on, oxygen_deficit when o2_on, myeloid when myeloid_on)
//   out: tcell (own site), cell[target] |= KILLED, claim (expansion bids and their records),
//        ifng_sources (+1 per recognised engagement, when ifng_on), tcell_engaged (own site,
//        on a recognised engagement, when tcell_arrest_steps)
//   rng: (site, step, KILL, 0), (site, step, KILL, 1), near a Treg or on a hypoxic target (site, step, KILL, 2),
//        near a myeloid suppressor (site, step, KILL, 3), see philox.cuh
//   min traffic: 1 B/site (tcell byte; the rest only near T cells)
GPUSIM_KERNEL void tcell_kill(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = phase_site(P, F);
    if (i >= P->n_sites) return;
    const u8 t = F->tcell[i];
    if (!t || !tcell_can_kill(P, t)) return;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_KILL, 0);
    if (r.x >= P->p_kill_attempt) return;
    const site_xyz c = site_coords(P, i);
    u32 n_targets = F->clone[i] != 0;
    for (u32 k = 0; k < P->n_nbr; ++k) {
        const u32 j = neighbour(P, c, k);
        if (j != GPUSIM_NO_SITE && F->clone[j] != 0) ++n_targets;
    }
    if (n_targets == 0) return;
    const u32 target = nth_tumour_candidate(P, F, i, c, __umulhi(r.y, n_targets));
    const u32 clone = F->clone[target];
    const u8 flags = F->clone_flags[clone];
    if (flags & GPUSIM_CLONE_HLA) return;
    const philox_u32x4 r2 = draw(P, i, GPUSIM_PHASE_KILL, 1);
    u32 kills = t & GPUSIM_TCELL_KILLS_MASK;
    u32 exhaustion = tcell_exhaustion_level(t);
    bool success = r.z < F->clone_recognition[clone];
    // Arrest on engagement (when tcell_arrest_steps): recognising the target
    // holds the T cell where it is for the arrest time (tcell_engaged steps;
    // tcell_death counts them down, tcell_move_propose honours them).
    if (success && P->tcell_arrest_steps) F->tcell_engaged[i] = (u8)P->tcell_arrest_steps;
    // IFN-gamma (kernels/ifng.cu, when on): engaging a recognised tumour cell
    // releases it into the T cell's field cell, and a target whose PD-L1 it
    // induced counts as PD-L1 high.
    bool pdl1 = (flags & GPUSIM_CLONE_PDL1) != 0;
    if (P->ifng_on) {
        if (success) atomic_add_same(&F->ifng_sources[field_cell_of(P, c)], 1u);
        pdl1 = pdl1 || F->pdl1_induced[target] != 0;
    }
    if (pdl1) {
        if (r2.x < P->p_exhaust && exhaustion < GPUSIM_TCELL_EXHAUSTION_MAX) ++exhaustion;
        success = success && r2.y < P->p_pdl1_pass;
    }
    // Regulatory T cells (kernels/treg.cu, when on): a Treg in contact (own
    // site or a neighbour) suppresses the kill and the expansion after it.
    // Oxygen (kernels/oxygen.cu, when on): a kill on a hypoxic target goes
    // on with p_hypoxic_kill_pass.
    bool expand_ok = true;
    if (success && (P->treg_on || P->o2_on)) {
        const bool treg = P->treg_on && agent_near(P, F->treg, i, c);
        const bool hypoxic = P->o2_on && F->oxygen_deficit[field_cell_of(P, site_coords(P, target))] > P->o2_hypoxic_deficit;
        if (treg || hypoxic) {
            const philox_u32x4 r3 = draw(P, i, GPUSIM_PHASE_KILL, 2);
            if (treg) {
                success = r3.x < P->p_treg_pass;
                expand_ok = r3.y < P->p_treg_pass;
            }
            if (hypoxic) success = success && r3.z < P->p_hypoxic_kill_pass;
        }
    }
    // Myeloid suppressors (kernels/myeloid.cu, when on): one in contact (own
    // site or a neighbour) suppresses the kill and the expansion after it.
    if (success && P->myeloid_on && agent_near(P, F->myeloid, i, c)) {
        const philox_u32x4 r4 = draw(P, i, GPUSIM_PHASE_KILL, 3);
        success = r4.x < P->p_myeloid_pass;
        expand_ok = expand_ok && r4.y < P->p_myeloid_pass;
    }
    if (success) {
        atomic_or_u8(&F->cell[target], (u8)GPUSIM_CELL_KILLED);
        --kills;
        if (expand_ok && r2.z < P->p_expand) {
            const u32 n_free = count_free_tcell_neighbours(P, F, c);
            if (n_free) {
                const u32 j = nth_free_tcell_neighbour(P, F, c, __umulhi(r2.w, n_free));
                claim_propose_from(F, j, r.w, i);
            }
        }
    }
    // A benign race on bytes: this write changes kills and exhaustion only,
    // never TCELL_PRESENT, while neighbouring threads read F->tcell[i]
    // (count/nth_free_tcell_neighbour) only for "is a T cell here"; whichever
    // byte they see, the answer is the same.  Likewise cell[target] is set by
    // an idempotent atomic OR, and no thread of this kernel reads cell[].
    F->tcell[i] = tcell_byte(kills, exhaustion);
}

// Expansion commit, per mother site (claim.cuh claim_commit: from the source side; per
// target site where the launch visits every site): the
// mother whose bid won its target places a fresh daughter there (full kills,
// the mother's exhaustion).
//   in:  claim, tcell (mother)   out: tcell, claim reset, counters[EXPANSIONS]
//   rng: none
//   min traffic: 8 B/site (claim)
GPUSIM_KERNEL void tcell_expand_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    u32 s, j;
    if (!phase_commit(P, F, &s, &j)) return;
    const u8 mother = F->tcell[s];
    F->tcell[j] = tcell_byte(P->kills_per_tcell, tcell_exhaustion_level(mother));
    tile_touch(P, F, j);
    atomic_add_same(&F->counters[GPUSIM_COUNTER_EXPANSIONS], 1ull);
}

// Migration move `sub` of the step (of this run's P->n_moves), phase 1: each T cell picks a neighbour
// with weight 1 + chemotaxis * max(0, c_j - c_i) (float32, neighbour order,
// sequential sums) and bids for it if its T layer is free (agent.cuh).  speed dt / dx =
// full_moves + fraction moves per step in expectation: substeps below
// full_moves always move, substep full_moves moves with the fraction.  A T
// cell still engaged (tcell_engaged > 0, when tcell_arrest_steps) stays.
//   in:  tcell, chemokine (tcell_engaged when tcell_arrest_steps)
//   out: claim (bids and their records)
//   rng: (site, step, MIGRATE, sub): .x direction (top 24 bits), .y priority,
//        .z fractional move taken?
//   min traffic: 1 B/site (tcell byte; the rest only at T cells)
GPUSIM_KERNEL void tcell_move_propose(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = phase_site(P, F);
    if (i >= P->n_sites || sub >= P->n_moves) return;  // this run's moves are done
    // Arrest on engagement (when tcell_arrest_steps): a T cell engaged within its arrest time stays.
    if (P->tcell_arrest_steps && F->tcell_engaged[i]) return;
    // A T cell beside a myeloid suppressor (kernels/myeloid.cu, when on) is held with p_myeloid_hold.
    agent_move_propose(P, F, F->tcell, i, sub, GPUSIM_PHASE_MIGRATE, P->full_moves, P->p_partial_move, P->chemotaxis,
                       P->myeloid_on ? F->myeloid : nullptr, P->p_myeloid_hold);
}

// Migration phase 2, per T-cell site (claim.cuh claim_commit: from the source side; per
// target site where the launch visits every site): a
// T cell whose bid won its target moves there.
//   in:  claim, tcell     out: tcell (target set, source cleared), claim reset
//   rng: none
//   min traffic: 8 B/site (claim)
GPUSIM_KERNEL void tcell_move_commit(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    agent_move_commit(P, F, F->tcell, phase_site(P, F), phase_dense(P, F), true);
}

// Death: lifespan, faster for T cells that can no longer kill; chemotherapy
// pulses kill with p_chemo_tcell.  Re-invigoration under PD-1 blockade
// (p_reinvigorate > 0 only while blockade is on and the rule is): a survivor
// with exhaustion above 0 sheds one level, before its observables are
// counted; at p_reinvigorate = 0 no byte changes (the rule is off).
//   in:  tcell     out: tcell, counters[TCELL_DEATHS], counters[OBS_TCELLS,
//        OBS_TCELLS_EXHAUSTED] (the survivors: the step's T-cell observables),
//        tcell_engaged (counted down, cleared on death; when tcell_arrest_steps)
//   rng: (site, step, TCELL_DEATH, 0): .x death?, .y chemotherapy death?, .z sheds an exhaustion level?
//   min traffic: 1 B/site (tcell byte)
GPUSIM_KERNEL void tcell_death(GPUSIM_ARGS)
{
    GPUSIM_BIND_RUN;
    const u32 i = phase_site(P, F);
    if (i >= P->n_sites) return;
    const u8 t = F->tcell[i];
    if (!t) return;
    const philox_u32x4 r = draw(P, i, GPUSIM_PHASE_TCELL_DEATH, 0);
    const u32 p = tcell_can_kill(P, t) ? P->p_tcell_death : P->p_tcell_death_exhausted;
    if (r.x < p || r.y < P->p_chemo_tcell) {
        F->tcell[i] = 0;
        if (P->tcell_arrest_steps) F->tcell_engaged[i] = 0;  // the next T cell here starts free
        atomic_add_same(&F->counters[GPUSIM_COUNTER_TCELL_DEATHS], 1ull);
    } else {
        // One step of an engaged T cell's arrest time has passed.
        if (P->tcell_arrest_steps && F->tcell_engaged[i]) F->tcell_engaged[i] = F->tcell_engaged[i] - 1;
        u8 now = t;
        const u32 exhaustion = tcell_exhaustion_level(t);
        if (exhaustion && r.z < P->p_reinvigorate) {
            now = tcell_byte(t & GPUSIM_TCELL_KILLS_MASK, exhaustion - 1);
            F->tcell[i] = now;
        }
        // The step's last change to the T-cell layer: its observables are
        // counted here, not in another pass over the lattice (observe.cu).
        atomic_add_same(&F->counters[GPUSIM_OBS_TCELLS], 1ull);
        if (!tcell_can_kill(P, now)) atomic_add_same(&F->counters[GPUSIM_OBS_TCELLS_EXHAUSTED], 1ull);
    }
}
