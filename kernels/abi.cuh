// abi.cuh -- the data every kernel sees: one Params block and one Fields
// block per run of the batch, passed as arrays indexed by run, and the
// launch's substep by value (uniform signature `kernel(const Params* P_runs,
// const Fields* F_runs, u32 sub)`, common.cuh GPUSIM_ARGS; GPUSIM_BIND_RUN
// picks the block's run, blockIdx.y).
//
// gpusim/abi.py parses THIS FILE to build the matching NumPy structured
// dtypes and constants, so the layout is written down once.  Keep to the
// simple forms it understands: `TYPE name;`, `TYPE name[N];`, `TYPE* name;`
// with TYPE in {u8, u32, i32, u64, f32}, and `#define GPUSIM_NAME integer`.
// The host fills each Params field from the ModelParams or StepParams
// attribute of the same name (gpusim/params.py); the few others are set per
// launch (step, n_clones, n_new, transfer_where_tumour, select_*).  A
// substep index (diffusion ping-pong, T-cell move) is the kernel argument
// `sub`, not a field: a substep then costs no upload of this block.
#pragma once

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef float f32;

#define GPUSIM_MAX_NEIGHBOURS 26
#define GPUSIM_IMMUNO_TABLE 1024
// New mutations of one daughter are capped at this count (the length of
// Params.mutation_sf); gpusim/config.py bounds mutations_per_division so the
// cap is reached with probability < 2e-6.
#define GPUSIM_MUTATION_TABLE 16

// Per-cell byte of the tumour layer.
#define GPUSIM_CELL_DIVISIONS_MASK 63
#define GPUSIM_CELL_KILLED 64
#define GPUSIM_CELL_STEM 128

// Clone flags.
#define GPUSIM_CLONE_PDL1 1
#define GPUSIM_CLONE_HLA 2

// T-cell byte: PRESENT | exhaustion level << 4 | kills left.
#define GPUSIM_TCELL_PRESENT 128
#define GPUSIM_TCELL_KILLS_MASK 15
#define GPUSIM_TCELL_EXHAUSTION_SHIFT 4
#define GPUSIM_TCELL_EXHAUSTION_MAX 7

// Chemokine concentration -> recruitment level (index into Params.recruit).
#define GPUSIM_RECRUIT_LEVELS 256

// Chemokine values below 2^GPUSIM_CHEM_FLOOR_EXP are zero (field.cuh chem_floor):
// the field then never holds or makes a subnormal number, so results do not
// depend on whether the hardware flushes subnormals (CuPy compiles with
// -ftz=true; the host and NumPy keep them).
#define GPUSIM_CHEM_FLOOR_EXP -100

// Per-step event counters (uint64 each, reset by the host every step).
#define GPUSIM_COUNTER_DIVISIONS 0
#define GPUSIM_COUNTER_DEATHS 1
#define GPUSIM_COUNTER_KILLS 2
#define GPUSIM_COUNTER_RECRUITED 3
#define GPUSIM_COUNTER_EXPANSIONS 4
#define GPUSIM_COUNTER_TCELL_DEATHS 5
#define GPUSIM_COUNTER_TRANSFERRED 6
// Other slots of the same array (not step events): the selection's append
// count, and the state observables (kernels/observe.cu) that come back with
// the counters in one transfer at the end of the step.
#define GPUSIM_SLOT_SELECTED 7
#define GPUSIM_OBS_TUMOUR_CELLS 8
#define GPUSIM_OBS_LIVE_CLONES 9
#define GPUSIM_OBS_PDL1_CELLS 10
#define GPUSIM_OBS_HLA_LOSS_CELLS 11
#define GPUSIM_OBS_RECOGNITION_SUM 12
#define GPUSIM_OBS_EDGE_CELLS 13
#define GPUSIM_OBS_TCELLS 14
#define GPUSIM_OBS_TCELLS_EXHAUSTED 15
#define GPUSIM_SLOT_FOUNDERS 16
#define GPUSIM_SLOT_NEW_CLONES 17
#define GPUSIM_OBS_MUTATION_SUM 18
#define GPUSIM_OBS_NEOANTIGEN_SUM 19
#define GPUSIM_OBS_INDUCED_PDL1_CELLS 20
#define GPUSIM_COUNTER_TREGS_RECRUITED 21
#define GPUSIM_COUNTER_TREG_DEATHS 22
#define GPUSIM_OBS_TREGS 23
#define GPUSIM_COUNTER_NECROSES 24
#define GPUSIM_OBS_HYPOXIC_CELLS 25
#define GPUSIM_OBS_NECROTIC_SITES 26
#define GPUSIM_COUNTER_MYELOID_RECRUITED 27
#define GPUSIM_COUNTER_MYELOID_DEATHS 28
#define GPUSIM_OBS_MYELOID_CELLS 29
#define GPUSIM_N_COUNTERS 30
// Diffusing fields a run may hold (gpusim.components: each its own record).
#define GPUSIM_MAX_FIELDS 8

// Numbering new clones in site order on the device (tumour.cu): sites in
// chunks of 2^FOUND_CHUNK_SHIFT, chunks in groups of 2^FOUND_GROUP_SHIFT.
#define GPUSIM_FOUND_CHUNK_SHIFT 10
#define GPUSIM_FOUND_GROUP_SHIFT 10

// Active tiles (tiles.cuh, tiles.cu): the lattice in tiles of 2^TILE_BITS
// sites; a tile's active-list build counts chunks of 2^TILE_CHUNK_SHIFT
// tiles, in groups of 2^TILE_GROUP_SHIFT chunks.  Fields.tile_state slots:
// the list's length, "a tile was switched on or off since the last build",
// "this build rewrites the list".
#define GPUSIM_TILE_BITS 6
#define GPUSIM_TILE_CHUNK_SHIFT 8
#define GPUSIM_TILE_GROUP_SHIFT 8
// The vessel list's build counts chunks of 2^VESSEL_CHUNK_SHIFT sites.
#define GPUSIM_VESSEL_CHUNK_SHIFT 12
#define GPUSIM_TILE_COUNT 0
#define GPUSIM_TILE_DIRTY 1
#define GPUSIM_TILE_REBUILD 2
#define GPUSIM_TILE_VESSELS 3
#define GPUSIM_TILE_STATE 4
// Site arrays whose non-zero entries make a tile active (one per component
// that says so, gpusim/components.py Component.occupancy).
#define GPUSIM_MAX_OCCUPANCY 4

// Host-computed, read-only for kernels.  Probabilities are uint32
// thresholds: an event happens when a Philox word < threshold.
struct Params {
    u32 n_sites;
    u32 nx;
    u32 ny;
    u32 nz;
    u32 n_nbr;
    u32 periodic;
    u32 step;
    u32 key0;
    u32 key1;
    i32 nbr_dx[GPUSIM_MAX_NEIGHBOURS];
    i32 nbr_dy[GPUSIM_MAX_NEIGHBOURS];
    i32 nbr_dz[GPUSIM_MAX_NEIGHBOURS];
    u32 p_tumour_divide;
    u32 p_tumour_death;
    u32 p_stem_symmetric;
    u32 max_divisions;
    // k new mutations per daughter, k ~ Poisson(mu) capped at MUTATION_TABLE:
    // mutation_sf[m] = threshold of P(k > m); k = #{m : word < mutation_sf[m]}.
    u32 mutation_sf[GPUSIM_MUTATION_TABLE];
    u32 p_neoantigen;  // each new mutation is a neoantigen
    u32 p_mut_pdl1;
    u32 p_mut_hla;
    u32 n_clones;
    u32 n_new;
    u32 immunogenicity[GPUSIM_IMMUNO_TABLE];
    // chemotherapy pulse this step (0 when none)
    u32 p_chemo_tumour;
    u32 p_chemo_tcell;
    // chemokine field: a grid `coarsen` times coarser than the lattice
    u32 fx;
    u32 fy;
    u32 fz;
    u32 n_field;
    u32 coarsen;
    u32 field_dim;
    // diffusing fields (kernels/field.cu): one record per field, indexed as
    // gpusim.components lists them (the chemokine is field 0); all share the
    // coarse grid above
    u32 field_substeps[GPUSIM_MAX_FIELDS];  // diffusion substeps per step (runs of a batch may differ)
    f32 field_alpha[GPUSIM_MAX_FIELDS];  // D dt_sub / dx_field^2
    f32 field_secrete_tumour[GPUSIM_MAX_FIELDS];  // added per tumour cell per step
    f32 field_secrete_tcell[GPUSIM_MAX_FIELDS];  // added per T cell per step
    // Counts another phase makes per field cell (Fields.field_counts[f]: the
    // chemokine's kills, IFN-gamma's engagements), read and cleared here.
    f32 field_per_count[GPUSIM_MAX_FIELDS];  // added per count
    u32 field_takes_counts[GPUSIM_MAX_FIELDS];  // 1: the field reads and clears its counts
    // Uptake by tumour cells, first order: each takes this fraction of
    // (uptake_ref - value) per step (a field that holds a deficit below a
    // supply, as oxygen, has uptake_ref = supply; a concentration, 0).
    f32 field_uptake_tumour[GPUSIM_MAX_FIELDS];
    f32 field_uptake_ref[GPUSIM_MAX_FIELDS];
    // Field cells holding a vessel site (and, with supply_faces, the faces of
    // a closed lattice) are held at supply_value through the whole step.
    u32 field_supply_vessels[GPUSIM_MAX_FIELDS];
    u32 field_supply_faces[GPUSIM_MAX_FIELDS];
    f32 field_supply_value[GPUSIM_MAX_FIELDS];
    f32 field_decay_before[GPUSIM_MAX_FIELDS];  // factor per step applied before the sources (1: none)
    f32 field_decay[GPUSIM_MAX_FIELDS];  // factor per step applied after the diffusion (1: none)
    f32 chem_level_scale;
    // T cells
    // Recruitment thresholds per chemokine level: without anti-CTLA-4
    // priming (recruit) and at full priming (recruit_primed), rebuilt only
    // when a window's multiplier moves; a step's priming (recruit_priming,
    // 2^32 = full) interpolates between them (tcell.cuh recruit_threshold),
    // so an antibody's occupancy changing every step writes one scalar per run.
    u32 recruit[GPUSIM_RECRUIT_LEVELS];
    u32 recruit_primed[GPUSIM_RECRUIT_LEVELS];
    u64 recruit_priming;
    u32 p_kill_attempt;
    u32 p_pdl1_pass;
    u32 p_exhaust;
    u32 p_reinvigorate;  // per step, a living T cell sheds one exhaustion level (0 without blockade or when off)
    u32 exhaustion_threshold;
    u32 kills_per_tcell;
    u32 p_expand;
    u32 p_tcell_death;
    u32 p_tcell_death_exhausted;
    u32 n_moves;  // T-cell move substeps per step (runs of a batch may differ)
    // speed dt / dx = full_moves + fraction: move `sub` = full_moves (if any)
    // is taken with probability fraction (threshold p_partial_move).
    u32 full_moves;
    u32 p_partial_move;
    f32 chemotaxis;
    u32 tcell_arrest_steps;  // steps a T cell stays after recognising its target (0: the rule is off)
    u32 transfer_where_tumour;
    // IFN-gamma and adaptive PD-L1 (kernels/ifng.cu; ifng_on = 0: off, the
    // arrays below are absent and no kernel reads them)
    u32 ifng_on;
    f32 ifng_threshold;  // induces PD-L1 at or above
    u32 p_pdl1_loss;  // an unexposed induced cell loses PD-L1
    // regulatory T cells (kernels/treg.cu; treg_on = 0: off, no treg array)
    u32 treg_on;
    u32 treg_recruit[GPUSIM_RECRUIT_LEVELS];
    u32 treg_n_moves;
    u32 treg_full_moves;
    u32 p_treg_partial_move;
    f32 treg_chemotaxis;
    u32 p_treg_death;
    u32 p_treg_deplete;  // anti-CTLA-4 depletion this step (0 when none)
    u32 p_treg_pass;  // a CD8 T cell next to a Treg still kills (expands): 1 - suppression
    // oxygen and hypoxia (kernels/oxygen.cu; o2_on = 0: off, no oxygen arrays)
    u32 o2_on;
    // The field (diffusing field "oxygen": field.cu) holds the deficit below
    // the vascular supply (mmHg): zero (fully oxygenated) is the state at
    // step 0 with no initial fill.
    f32 o2_hypoxic_deficit;  // supply - hypoxia threshold: above, no division and weaker killing
    f32 o2_anoxic_deficit;  // supply - anoxia threshold: above, necrosis
    u32 p_necrosis;
    u32 p_hypoxic_kill_pass;  // a kill on a hypoxic target goes on
    // myeloid suppressor cells (kernels/myeloid.cu; myeloid_on = 0: off, no myeloid array)
    u32 myeloid_on;
    u32 myeloid_field;  // the CCL2 field's index (Fields.field_value) that draws them
    u32 myeloid_recruit[GPUSIM_RECRUIT_LEVELS];
    u32 myeloid_n_moves;
    u32 myeloid_full_moves;
    u32 p_myeloid_partial_move;
    f32 myeloid_chemotaxis;
    u32 p_myeloid_death;
    u32 p_myeloid_deplete;  // CSF1R inhibition this step (0 when none)
    u32 p_myeloid_hold;  // a CD8 T cell beside a myeloid cell skips a move (trapped)
    u32 p_myeloid_block;  // a myeloid cell on or beside a vessel blocks a CD8 T cell's entry there
    u32 p_myeloid_pass;  // a CD8 T cell next to a myeloid suppressor still kills (expands): 1 - suppression
    // initial state (kernels/initial.cu)
    u64 init_radius2;
    u32 init_cell;
    u32 p_vessel;
    u32 init_tcell_bids;
    // selection of the lowest bids (kernels/select.cu)
    u32 select_capacity;
    u64 select_below;
    // active tiles (gpusim/engine/tiles.py): per-site phases visit only the
    // tiles in Fields.tile_list when tiles_on, every site otherwise.  A tile
    // is 2^tile_bits_x x 2^tile_bits_y x 2^(TILE_BITS - x - y) sites; tnx
    // tiles along x (the last may be partial), likewise y, z.
    u32 tiles_on;
    u32 tile_bits_x;
    u32 tile_bits_y;
    u32 tnx;
    u32 tny;
    u32 tnz;
    u32 n_tiles;
    u32 tiles_dense_from;  // this many listed tiles or more: per-site phases visit every site
    u32 vessels_listed;  // tcell_recruit visits Fields.vessel_list (tile_state[VESSELS] entries)
    u32 occupancy_bytes[GPUSIM_MAX_OCCUPANCY];  // element size of Fields.occupancy[q], 0 = unused
};

// Device pointers to the struct-of-arrays state.
struct Fields {
    u32* clone;
    u8* cell;
    u64* claim;
    u32* new_sites;
    u64* counters;
    u32* clone_parent;
    u32* clone_birth_step;
    u32* clone_mutations;
    u32* clone_mutations_total;
    u32* clone_neoantigens;
    u32* clone_recognition;
    u8* clone_flags;
    u32* clone_population;
    u8* tcell;
    u8* vessel;
    f32* chemokine;  // = field_value[0], read by the T-cell rules
    f32* field_value[GPUSIM_MAX_FIELDS];
    f32* field_scratch[GPUSIM_MAX_FIELDS];
    u32* field_counts[GPUSIM_MAX_FIELDS];  // a field's counts (kill_bursts, ifng_sources), null if none
    u8* field_fixed[GPUSIM_MAX_FIELDS];  // per field cell: 1 = held at the supply this step, null if no supply
    u32* kill_bursts;
    f32* ifng;
    u32* ifng_sources;
    u8* pdl1_induced;
    u8* tcell_engaged;  // steps of arrest left for the T cell here (tcell_arrest component)
    u8* treg;
    f32* oxygen_deficit;
    u8* necrotic;
    u8* myeloid;
    u64* selected;
    u32* found_chunks;
    u32* found_groups;
    u8* tile_flags;  // per tile: 1 = in the next list build
    u32* tile_list;  // the active tiles' first sites, in tile order
    u32* tile_span;  // and their extents: x | y << 4 | z << 8 (cut at the lattice's far faces)
    u32* tile_chunks;
    u32* tile_groups;
    u32* tile_state;  // GPUSIM_TILE_COUNT, _DIRTY, _REBUILD, _VESSELS
    u32* vessel_list;  // the vessel sites, in site order (they never change)
    u32* vessel_chunks;
    u8* occupancy[GPUSIM_MAX_OCCUPANCY];
};
