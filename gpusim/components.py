"""The model as components (DESIGN §9): the registry every central table is
assembled from.

A component is a vertical slice of the model -- tumour, T cells, a
diffusing field, a new cell type -- that owns its config section, its
state arrays (per site, per field cell), its scratch, its phases (each with
the step position it takes and the function that runs it on the kernel
engine and on the NumPy reference), its kernel file, its events and
observables, its frames and its plot colour.  The tables the rest of the
package reads are made here from :data:`COMPONENTS`:

- :func:`site_arrays` / :func:`field_arrays` (the state, checkpoints, memory sizing),
- :func:`phases` (the step order, gated by each component's predicate),
- :data:`EVENTS` / :data:`STATE` (observables), :data:`FRAMES` (run-file fields),
- :func:`batch_key` (what runs of one batch share), :func:`scratch` (kernel-engine work arrays),
- :data:`KERNEL_SOURCES` (what the kernel build compiles), :data:`COLOURS` (plots).

Adding a component (README "Adding a component") is one :class:`Component`
appended to :data:`COMPONENTS`, its config section and its ABI fields
(``kernels/abi.cuh``); its rule lives in new files (its kernel with its
Philox phase ids, its engine and reference phase functions, its host
values -- the :attr:`Component.params` hook --, its test).  A component that is not switched on (:attr:`Component.on` false)
has no arrays, no phases, no frames: a config that does not switch it on
runs byte for byte as before.

>>> [c.name for c in COMPONENTS]
['tumour', 'tcells', 'chemokine', 'ifng', 'tregs', 'oxygen']
>>> from gpusim.config import Config
>>> [p.name for p in phases(Config.model_validate({"immune": {"enabled": False}}))]
['tumour_death', 'tumour_divide']
>>> list(site_arrays(Config()))
['clone', 'cell', 'tcell', 'vessel']
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

U8, U32, U64, F32 = (np.dtype(t) for t in (np.uint8, np.uint32, np.uint64, np.float32))

#: An observable: (dtype, unit, description).
Observable = tuple[type, str, str]


def counts(**entries: tuple[str, str]) -> dict[str, Observable]:
    """int64 observables from name=(unit, description)."""
    return {name: (np.int64, unit, description) for name, (unit, description) in entries.items()}


def _always(cfg) -> bool:
    return True


def _immune(cfg) -> bool:
    return bool(cfg.immune.enabled)


@dataclass(frozen=True)
class Phase:
    """One phase of the step.  ``position`` orders phases across components
    (DESIGN §4 numbers them 2..8; a new phase takes a fraction between two).
    ``engine`` and ``reference`` name its function (``module:function``,
    imported on first use) on the kernel engine and on the NumPy reference;
    each is called as ``fn(backend, step_params, events)``."""

    name: str
    position: float
    engine: str
    reference: str
    #: Extra arguments of both functions (a diffusing field's name).
    args: tuple = ()

    def function(self, which: str) -> Callable:
        return resolve(getattr(self, which))


@dataclass(frozen=True)
class FieldRecord:
    """What makes a component a diffusing field (one kernel set for all,
    kernels/field.cu): the keys of its config section that give its
    diffusivity (um^2/min), decay (per min), explicit substeps (None: the
    fewest stable), secretion per cell of a layer (``tumour``, ``tcell``:
    amount per cell per min) and, optionally, the amount released per kill.
    Values below the floor are zero; all fields share the coarse grid of
    ``chemokine.grid_coarsening``.  The host turns these into the field's
    record of ``Params`` (gpusim.params.field_records)."""

    secrete: dict[str, str]
    burst: str | None = None
    diffusion: str = "diffusion_um2_per_min"
    decay: str = "decay_per_min"
    substeps: str = "diffusion_substeps"


@dataclass(frozen=True)
class Component:
    """One vertical slice of the model (see the module docstring).

    ``on(cfg)`` gates its phases; ``allocated(cfg)`` its arrays and frames
    (tumour, T cells and chemokine keep theirs with the immune system off,
    as before components existed: their run files stay as they were).
    ``scratch`` sizes (per run) are ``"sites"``, ``"field"``, a starting
    width (the engine grows those) or a ``module:function`` of the number
    of sites.  ``key(cfg)`` is the part of the batch key that
    shapes its arrays or launches.  ``stored_at_default``: whether a run
    file's stored config lists the section while it holds its defaults
    (only the three components of v2 do; a later one's section appears
    once a config sets it, so existing run files stay as they were).
    ``occupancy`` names the site arrays whose non-zero entries make a tile
    active while the component is on (:mod:`gpusim.engine.tiles`): every
    site a phase of the component acts on for itself must hold one."""

    name: str
    section: str
    stored_at_default: bool = False
    on: Callable[[Any], bool] = _always
    allocated: Callable[[Any], bool] | None = None
    site_arrays: dict[str, np.dtype] = field(default_factory=dict)
    field_arrays: dict[str, np.dtype] = field(default_factory=dict)
    scratch: dict[str, tuple[np.dtype, str | int]] = field(default_factory=dict)
    phases: tuple[Phase, ...] = ()
    kernel: str | None = None
    events: dict[str, Observable] = field(default_factory=dict)
    observables: dict[str, Observable] = field(default_factory=dict)
    frames: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    colour: str | None = None
    #: Plot style (``gpusim plot``), in its colour: the state observables
    #: drawn as growth curves where a run has them, name -> (legend label,
    #: line style), and the per-site frames drawn as markers over the
    #: snapshot's clones, name -> (legend label, marker, size in points^2, alpha).
    curves: dict[str, tuple[str, str]] = field(default_factory=dict)
    markers: dict[str, tuple[str, str, float, float]] = field(default_factory=dict)
    #: A diffusing field: its value array (``field_arrays[name]``), scratch
    #: (``<name>_scratch``) and record (see :class:`FieldRecord`).
    diffusing: FieldRecord | None = None
    key: Callable[[Any], tuple] = lambda cfg: ()
    #: Its state observables on the NumPy reference: ``module:function``
    #: called as ``fn(state, cfg)`` -> {name: value} (the tumour's and the
    #: T cells' are gpusim.observables.Observer's own).
    observe: str | None = None
    #: Its state observables on the kernel engine for a state no step has
    #: counted yet (step 0, a loaded checkpoint): a per-site kernel adding
    #: into its ``GPUSIM_OBS_*`` counters (after a step the phase that last
    #: changes its layer counts them).
    observer: str | None = None
    #: The observer also runs at the end of every step (its observables
    #: depend on layers that later phases change: no phase can count them).
    observe_each_step: bool = False
    #: Observables derived on the host from the step's state observables
    #: (both backends): ``module:function`` called as ``fn(obs)`` with
    #: scalars or arrays over runs -> {name: float64 value(s)}.
    derive: str | None = None
    occupancy: tuple[str, ...] = ()
    #: The host values of its ``Params`` fields (kernel units):
    #: ``module:function`` called as ``fn(cfg, mp)`` with the core
    #: ModelParams (lattice, time step, fields, T cells) -> {field name:
    #: value}; the values become attributes of ModelParams (``mp.treg_on``)
    #: and fill the ``Params`` fields of the same names.  Called whether the
    #: component is on or not (its ``*_on`` flag tells the kernels).
    params: str | None = None

    def has_arrays(self, cfg) -> bool:
        return (self.allocated or self.on)(cfg)


@lru_cache(maxsize=None)
def resolve(path: str) -> Callable:
    """The function ``module:function`` names (imported on first use)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


TUMOUR = Component(
    name="tumour", section="tumour", stored_at_default=True, kernel="tumour.cu",
    site_arrays={"clone": U32,  # clone id, 0 = no tumour cell
                 "cell": U8},  # divisions left | KILLED | STEM (state.CELL_*)
    # claim[]: bids of two-phase moves (tumour division, T-cell moves), all
    # ones between phases; found_*: the prefix sum that numbers new clones.
    scratch={"claim": (U64, "sites"), "new_sites": (U32, 16), "selected": (U64, 16),
             "found_chunks": (U32, "gpusim.engine.tumour:found_chunk_count"),
             "found_groups": (U32, "gpusim.engine.tumour:found_group_count")},
    phases=(Phase("tumour_death", 5, "gpusim.engine.phases:tumour_death", "gpusim.reference.phases:tumour_death"),
            Phase("tumour_divide", 6, "gpusim.engine.phases:tumour_divide", "gpusim.reference.phases:tumour_divide")),
    events=counts(divisions=("events", "tumour divisions in the step"),
                  deaths=("events", "tumour deaths in the step (all causes)"),
                  new_clones=("clones", "clones founded in the step")),
    observables={
        **counts(tumour_cells=("cells", "live tumour cells"),
                 live_clones=("clones", "clones with at least one live cell"),
                 pdl1_cells=("cells", "tumour cells of PD-L1-high clones"),
                 hla_loss_cells=("cells", "tumour cells of clones that lost antigen presentation")),
        "mean_recognition": (np.float64, "probability", "mean recognition probability r over tumour cells"),
        "tmb": (np.float64, "mutations", "tumour mutational burden: mean acquired mutations per tumour cell"),
        "neoantigen_load": (np.float64, "neoantigens", "mean acquired neoantigens per tumour cell"),
        **counts(edge_cells=("cells", "tumour cells on the lattice boundary (closed boundary; 0 if periodic)"))},
    frames={"tumour_clone": ("clone", "clone id", "tumour clone id per site, 0 = no tumour cell")},
    key=lambda cfg: (tuple(cfg.lattice.shape), cfg.lattice.neighbourhood, cfg.lattice.boundary,
                     cfg.simulation.dt_minutes, cfg.simulation.active_tiles),
    occupancy=("clone",),
)

TCELLS = Component(
    name="tcells", section="immune", stored_at_default=True, on=_immune, allocated=_always, kernel="tcell.cu",
    site_arrays={"tcell": U8,  # PRESENT | exhaustion << 4 | kills left, 0 = none
                 "vessel": U8},  # 1 = vessel site (T cells enter here)
    phases=(Phase("tcell_recruit", 3, "gpusim.engine.phases:tcell_recruit", "gpusim.reference.phases:tcell_recruit"),
            Phase("tcell_kill", 4, "gpusim.engine.phases:tcell_kill", "gpusim.reference.phases:tcell_kill"),
            Phase("tcell_migrate", 7, "gpusim.engine.phases:tcell_migrate", "gpusim.reference.phases:tcell_migrate"),
            Phase("tcell_death", 8, "gpusim.engine.phases:tcell_death", "gpusim.reference.phases:tcell_death")),
    events=counts(kills=("events", "tumour cells killed by T cells in the step"),
                  recruited=("cells", "T cells recruited at vessels in the step"),
                  expansions=("cells", "T cells born by expansion after a kill in the step"),
                  transferred=("cells", "T cells injected by adoptive transfer in the step"),
                  tcell_deaths=("events", "T-cell deaths in the step")),
    observables=counts(tcells=("cells", "T cells"),
                       tcells_exhausted=("cells", "T cells that can no longer kill (exhausted or out of kills)")),
    frames={"tcells": ("tcell", "bits", "T cell per site: 128 = present | exhaustion << 4 | kills left; 0 = none")},
    colour="#1f5fd0",
    key=lambda cfg: (cfg.immune.enabled,),
    occupancy=("tcell",),  # recruitment, at vessels, is not tiled (gpusim.engine.tcell)
)

def diffusing_field(name: str, section: str, record: FieldRecord, position: float, description: str,
                    on: Callable[[Any], bool], **kw) -> Component:
    """A diffusing field component: its value array, its diffusion scratch,
    its phase (secretion, diffusion substeps, decay: one kernel set for every
    field), its frame.  A new field is one call of this in :data:`COMPONENTS`
    and its config section: no new kernel."""
    return Component(
        name=name, section=section, on=on, kernel="field.cu", diffusing=record,
        field_arrays={name: F32, **kw.pop("field_arrays", {})},
        scratch={f"{name}_scratch": (F32, "field")},  # the diffusion ping-pong buffer
        phases=(Phase(name, position, "gpusim.engine.field:step", "gpusim.reference.diffusion:step", (name,)),),
        frames={name: (name, "concentration", description)}, **kw)


CHEMOKINE = diffusing_field(
    "chemokine", "chemokine", FieldRecord(secrete={"tumour": "secretion_per_cell_per_min"}, burst="kill_burst"),
    2, "chemokine per field cell (amount per site volume)", on=_immune, allocated=_always, stored_at_default=True,
    field_arrays={"kill_bursts": U32},  # kills since the last chemokine phase
    key=lambda cfg: (cfg.chemokine.grid_coarsening,),
)

def _ifng(cfg) -> bool:
    return bool(cfg.ifng.enabled)


IFNG = Component(
    # IFN-gamma and adaptive PD-L1 (config [ifng], kernels/ifng.cu).  Couples
    # into tcell_kill: engagements release IFN-gamma, induced cells count as
    # PD-L1 high.  Position 5.5: after the deaths (a dead cell's flag clears)
    # and before division (daughters land on clear sites).
    name="ifng", section="ifng", on=_ifng, kernel="ifng.cu",
    site_arrays={"pdl1_induced": U8},  # 1 = the tumour cell here has IFN-gamma-induced PD-L1
    field_arrays={"ifng": F32,  # IFN-gamma per field cell (the chemokine's grid)
                  "ifng_sources": U32},  # recognised engagements since the last ifng phase
    phases=(Phase("ifng", 5.5, "gpusim.engine.ifng:phase", "gpusim.reference.ifng:phase"),),
    observables=counts(induced_pdl1_cells=("cells", "tumour cells with IFN-gamma-induced PD-L1")),
    frames={"ifng": ("ifng", "concentration", "IFN-gamma per field cell (amount per site volume)"),
            "pdl1_induced": ("pdl1_induced", "flag", "1 = tumour cell with IFN-gamma-induced PD-L1")},
    colour="#c51b8a",
    curves={"induced_pdl1_cells": ("IFN-γ-induced PD-L1 cells", "--")},
    markers={"pdl1_induced": ("IFN-γ-induced PD-L1", "+", 3.0, 0.6)},
    observe="gpusim.reference.ifng:observe", observer="ifng_observe", params="gpusim.reference.ifng:params",
)

def _tregs(cfg) -> bool:
    return bool(cfg.tregs.enabled)


TREGS = Component(
    # Regulatory T cells (config [tregs], kernels/treg.cu).  Couples into
    # tcell_kill: a Treg in contact suppresses the kill and the expansion.
    # Each phase runs just after its CD8 counterpart.
    name="tregs", section="tregs", on=_tregs, kernel="treg.cu",
    site_arrays={"treg": U8},  # 1 = a regulatory T cell here
    phases=(Phase("treg_recruit", 3.5, "gpusim.engine.treg:recruit", "gpusim.reference.treg:recruit"),
            Phase("treg_migrate", 7.5, "gpusim.engine.treg:migrate", "gpusim.reference.treg:migrate"),
            Phase("treg_death", 8.5, "gpusim.engine.treg:death", "gpusim.reference.treg:death")),
    events=counts(tregs_recruited=("cells", "regulatory T cells recruited at vessels in the step"),
                  treg_deaths=("events", "regulatory T-cell deaths in the step (lifespan, depletion, chemotherapy)")),
    observables={**counts(tregs=("cells", "regulatory T cells")),
                 "cd8_treg_ratio": (np.float64, "ratio", "CD8 T cells per regulatory T cell (CD8 count if none)")},
    frames={"tregs": ("treg", "flag", "1 = regulatory T cell")},
    colour="#e08a00",
    curves={"tregs": ("regulatory T cells", "-")},
    markers={"tregs": ("regulatory T cells", "D", 2.0, 0.8)},
    observe="gpusim.reference.treg:observe", observer="treg_observe", derive="gpusim.reference.treg:ratio",
    params="gpusim.reference.treg:params",
)

def _oxygen(cfg) -> bool:
    return bool(cfg.oxygen.enabled)


OXYGEN = Component(
    # Oxygen and hypoxia (config [oxygen], kernels/oxygen.cu).  Couples into
    # tumour_divide_propose (no division when hypoxic) and tcell_kill (weaker
    # kills on hypoxic targets).  The field before the chemokine's phase-2
    # neighbours (position 2.5); necrosis after the other deaths (5.2, before
    # IFN-gamma clears the flags of empty sites).
    name="oxygen", section="oxygen", on=_oxygen, kernel="oxygen.cu",
    site_arrays={"necrotic": U8},  # 1 = a tumour cell died of anoxia here (cleared when a tumour cell is here)
    field_arrays={"oxygen_deficit": F32},  # supply - oxygen, mmHg per field cell (the chemokine's grid): 0 = oxygenated
    scratch={"oxygen_scratch": (F32, "field"),  # the diffusion ping-pong buffer
             "oxygen_source": (U8, "field")},  # field cells held at the supply this step
    phases=(Phase("oxygen", 2.5, "gpusim.engine.oxygen:field", "gpusim.reference.oxygen:field"),
            Phase("tumour_necrosis", 5.2, "gpusim.engine.oxygen:necrosis", "gpusim.reference.oxygen:necrosis")),
    events=counts(necroses=("events", "tumour cells dead of anoxia (necrosis) in the step; also in deaths")),
    observables=counts(hypoxic_cells=("cells", "tumour cells below the hypoxia threshold"),
                       necrotic_sites=("sites", "necrotic sites without a tumour cell")),
    frames={"oxygen_deficit": ("oxygen_deficit", "mmHg", "oxygen below the vascular supply (oxygen.supply_mmHg), "
                                                            "per field cell"),
            "necrotic": ("necrotic", "flag", "1 = necrotic site (a tumour cell died of anoxia there)")},
    colour="#6b4f3a",
    curves={"hypoxic_cells": ("hypoxic tumour cells", "--"), "necrotic_sites": ("necrotic sites", ":")},
    markers={"necrotic": ("necrotic sites", "s", 1.5, 0.8)},
    observe="gpusim.reference.oxygen:observe", observer="oxygen_observe", observe_each_step=True,
    params="gpusim.reference.oxygen:params",
)

#: Every component, in the order their arrays, events and frames are listed.
COMPONENTS: tuple[Component, ...] = (TUMOUR, TCELLS, CHEMOKINE, IFNG, TREGS, OXYGEN)

#: Kernel files of the components, then the shared ones (initial state,
#: selection, observables, active tiles), in the order they are compiled together.
KERNEL_SOURCES: tuple[str, ...] = (*dict.fromkeys(c.kernel for c in COMPONENTS if c.kernel), "initial.cu",
                                   "select.cu", "observe.cu", "tiles.cu")

#: The diffusing fields, in the order of their records in ``Params`` (field index).
FIELDS: tuple[Component, ...] = tuple(c for c in COMPONENTS if c.diffusing is not None)


def field_index(name: str) -> int:
    """Index of diffusing field ``name`` (its record in ``Params``)."""
    return [c.name for c in FIELDS].index(name)

#: Counted by the backends during the step (0 at step 0).
EVENTS: dict[str, Observable] = {k: v for c in COMPONENTS for k, v in c.events.items()}
#: Functions of the state after the step.
STATE: dict[str, Observable] = {k: v for c in COMPONENTS for k, v in c.observables.items()}
#: Fields written as frames: name -> (source array, unit, description).
FRAMES: dict[str, tuple[str, str, str]] = {k: v for c in COMPONENTS for k, v in c.frames.items()}
#: Frames of per-site layers, by component (``gpusim export``'s cells table
#: decodes the tumour's and the T cells'; other layers become raw columns).
SITE_FRAMES: dict[str, str] = {name: c.name for c in COMPONENTS for name, (src, _, _) in c.frames.items()
                               if src in c.site_arrays}
#: Plot colour of a frame's layer (the T cells' blue).
COLOURS: dict[str, str] = {name: c.colour for c in COMPONENTS if c.colour for name in c.frames}
#: Growth curves of the components' counts (``gpusim plot``, after the
#: tumour and the T cells): observable -> (label, colour, line style).
CURVES: dict[str, tuple[str, str, str]] = {name: (label, c.colour, ls) for c in COMPONENTS
                                           for name, (label, ls) in c.curves.items()}
#: Site layers drawn over the snapshot's clones: frame -> (label, colour,
#: marker, size, alpha), in the order the components are listed.
MARKERS: dict[str, tuple[str, str, str, float, float]] = {name: (label, c.colour, *style) for c in COMPONENTS
                                                          for name, (label, *style) in c.markers.items()}


def active(cfg) -> tuple[Component, ...]:
    """The components whose arrays a run of ``cfg`` holds."""
    return tuple(c for c in COMPONENTS if c.has_arrays(cfg))


def site_arrays(cfg) -> dict[str, np.dtype]:
    """Per-site state arrays of a run of ``cfg``, with their dtypes."""
    return {k: v for c in active(cfg) for k, v in c.site_arrays.items()}


def field_arrays(cfg) -> dict[str, np.dtype]:
    """Arrays on the coarse field grid (``State.extra``) of a run of ``cfg``."""
    return {k: v for c in active(cfg) for k, v in c.field_arrays.items()}


def derived(cfg, obs: dict) -> dict:
    """``obs`` with the derived observables of ``cfg``'s components added."""
    for c in active(cfg):
        if c.derive:
            obs.update(resolve(c.derive)(obs))
    return obs


def scratch(cfg) -> dict[str, tuple[np.dtype, str | int]]:
    """Work arrays of the kernel engine beside the state (name -> (dtype, size))."""
    return {k: v for c in active(cfg) for k, v in c.scratch.items()}


def scratch_width(size: str | int, n_sites: int, n_field: int) -> int:
    """Entries per run of a scratch array of ``size`` (see :class:`Component`)."""
    if isinstance(size, int):
        return size
    if size in ("sites", "field"):
        return n_sites if size == "sites" else n_field
    return int(resolve(size)(n_sites))


def occupancy(cfg) -> tuple[str, ...]:
    """Site arrays whose non-zero entries make a tile active in a run of ``cfg``."""
    return tuple(name for c in COMPONENTS if c.on(cfg) for name in c.occupancy)


def phases(cfg) -> tuple[Phase, ...]:
    """The phases one step of ``cfg`` runs, in step order."""
    return tuple(sorted((p for c in COMPONENTS if c.on(cfg) for p in c.phases), key=lambda p: p.position))


def all_phases() -> tuple[Phase, ...]:
    """Every phase of every component, in step order."""
    return tuple(sorted((p for c in COMPONENTS for p in c.phases), key=lambda p: p.position))


def batch_key(cfg) -> tuple:
    """What must be equal for runs to share a batch: everything that shapes
    the arrays or the launch sequence (each component's part, and which
    components run)."""
    return tuple((c.name, c.key(cfg), c.on(cfg), c.has_arrays(cfg)) for c in COMPONENTS)
