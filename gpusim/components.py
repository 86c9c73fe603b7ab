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
['tumour', 'tcells', 'chemokine', 'ifng', 'tregs', 'oxygen', 'ccl2', 'myeloid', 'tcell_arrest']
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
    kernels/field.cu): the keys of its config section that give

    - ``diffusion``: its diffusivity (um^2/min; None: it does not diffuse),
      ``substeps``: its explicit substeps (None, or a key left unset: the
      fewest stable), ``decay``: its first-order decay (per min; None: none),
      applied after the diffusion, or before the sources (``decay_first``);
    - ``secrete``: secretion per cell of a layer (``tumour``, ``tcell``:
      amount per cell per min);
    - ``counts``: (a ``u32`` field array another phase counts into, the key
      of the amount per count): the chemokine's kills, IFN-gamma's
      engagements; the field reads and clears it;
    - ``uptake``: first-order uptake per cell of a layer (``tumour``: per
      min) of the field's concentration;
    - ``supply``: the concentration held at field cells with a vessel site
      (and, where the key ``supply_faces`` is true, the faces of a closed
      lattice); with ``deficit`` the field stores supply - concentration
      (zero: supplied), as oxygen does.

    ``value`` names its value array (default: the component's name).  Values
    below the floor are zero; all fields share the coarse grid of
    ``chemokine.grid_coarsening``.  The host turns these into the field's
    record of ``Params`` (gpusim.params.field_records)."""

    secrete: dict[str, str] = field(default_factory=dict)
    counts: tuple[str, str] | None = None
    diffusion: str | None = "diffusion_um2_per_min"
    decay: str | None = "decay_per_min"
    decay_first: bool = False
    substeps: str | None = "diffusion_substeps"
    uptake: dict[str, str] = field(default_factory=dict)
    supply: str | None = None
    supply_faces: str | None = None
    deficit: bool = False
    value: str | None = None

    def scratch(self, name: str) -> dict[str, tuple[np.dtype, str]]:
        """Its kernel-engine work arrays: the diffusion ping-pong buffer, the
        supplied cells' marks."""
        out = {f"{name}_scratch": (F32, "field")} if self.diffusion else {}
        return {**out, **({f"{name}_fixed": (U8, "field")} if self.supply else {})}


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
                    on: Callable[[Any], bool], unit: str = "concentration", **kw) -> Component:
    """A diffusing field component: its value array, its phase (one kernel
    set for every field: sources, uptake, supply, diffusion substeps, decay),
    its frame; its scratch comes from the record.  A new field is one call of
    this in :data:`COMPONENTS` and its config section: no new kernel.  A
    component with rules of its own beside its field (IFN-gamma's PD-L1,
    oxygen's necrosis) passes them in ``kw`` (more phases, arrays, frames)."""
    value = record.value or name
    return Component(
        name=name, section=section, on=on, kernel=kw.pop("kernel", "field.cu"), diffusing=record,
        field_arrays={value: F32, **kw.pop("field_arrays", {})},
        phases=(Phase(name, position, "gpusim.engine.field:step", "gpusim.reference.diffusion:step", (name,)),
                *kw.pop("phases", ())),
        frames={value: (value, unit, description), **kw.pop("frames", {})}, **kw)


CHEMOKINE = diffusing_field(
    "chemokine", "chemokine",
    FieldRecord(secrete={"tumour": "secretion_per_cell_per_min"}, counts=("kill_bursts", "kill_burst")),
    2, "chemokine per field cell (amount per site volume)", on=_immune, allocated=_always, stored_at_default=True,
    field_arrays={"kill_bursts": U32},  # kills since the last chemokine phase
    key=lambda cfg: (cfg.chemokine.grid_coarsening,),
)

def _ccl2(cfg) -> bool:
    return bool(cfg.ccl2.enabled)


CCL2 = diffusing_field(
    # A CCL2-like myeloid-attracting chemokine (config [ccl2]): secreted by
    # tumour cells, read by the myeloid component (recruitment at vessels,
    # chemotaxis).  Before the T cells' recruitment, after the chemokine.
    "ccl2", "ccl2", FieldRecord(secrete={"tumour": "secretion_per_cell_per_min"}),
    2.2, "CCL2 per field cell (amount per site volume)", on=_ccl2,
)

def _ifng(cfg) -> bool:
    return bool(cfg.ifng.enabled)


IFNG = diffusing_field(
    # IFN-gamma and adaptive PD-L1 (config [ifng], kernels/ifng.cu).  Couples
    # into tcell_kill: engagements release IFN-gamma (counted into
    # ifng_sources), induced cells count as PD-L1 high.  The field: decay,
    # then the engagements' release, no diffusion (the shared field kernels).
    # Position 5.5: after the deaths (a dead cell's flag clears) and before
    # division (daughters land on clear sites); induction just after.
    "ifng", "ifng", FieldRecord(counts=("ifng_sources", "secretion_per_engagement"), diffusion=None,
                                decay_first=True, substeps=None),
    5.5, "IFN-gamma per field cell (amount per site volume)", on=_ifng, kernel="ifng.cu",
    site_arrays={"pdl1_induced": U8},  # 1 = the tumour cell here has IFN-gamma-induced PD-L1
    field_arrays={"ifng_sources": U32},  # recognised engagements since the last ifng phase
    phases=(Phase("ifng_induce", 5.6, "gpusim.engine.ifng:induce", "gpusim.reference.ifng:induce"),),
    observables=counts(induced_pdl1_cells=("cells", "tumour cells with IFN-gamma-induced PD-L1")),
    frames={"pdl1_induced": ("pdl1_induced", "flag", "1 = tumour cell with IFN-gamma-induced PD-L1")},
    colour="#c51b8a",
    curves={"induced_pdl1_cells": ("IFN-γ-induced PD-L1 cells", "--")},
    markers={"pdl1_induced": ("IFN-γ-induced PD-L1", "+", 3.0, 0.6)},
    observe="gpusim.reference.ifng:observe", observer="ifng_observe", params="gpusim.reference.ifng:params",
)

def _oxygen(cfg) -> bool:
    return bool(cfg.oxygen.enabled)


OXYGEN = diffusing_field(
    # Oxygen and hypoxia (config [oxygen], kernels/oxygen.cu).  Couples into
    # tumour_divide_propose (no division when hypoxic) and tcell_kill (weaker
    # kills on hypoxic targets).  The field (shared field kernels) holds the
    # deficit below the vascular supply, mmHg per field cell: held at 0 where
    # vessels are, taken up by tumour cells, no decay.  The field before the
    # chemokine's phase-2 neighbours (position 2.5); necrosis after the other
    # deaths (5.2, before IFN-gamma clears the flags of empty sites).
    "oxygen", "oxygen",
    FieldRecord(uptake={"tumour": "uptake_per_cell_per_min"}, supply="supply_mmHg", supply_faces="boundary_supply",
                deficit=True, decay=None, substeps=None, value="oxygen_deficit"),
    2.5, "oxygen below the vascular supply (oxygen.supply_mmHg), per field cell", on=_oxygen, unit="mmHg",
    kernel="oxygen.cu",
    site_arrays={"necrotic": U8},  # 1 = a tumour cell died of anoxia here (cleared when a tumour cell is here)
    phases=(Phase("tumour_necrosis", 5.2, "gpusim.engine.oxygen:necrosis", "gpusim.reference.oxygen:necrosis"),),
    events=counts(necroses=("events", "tumour cells dead of anoxia (necrosis) in the step; also in deaths")),
    observables=counts(hypoxic_cells=("cells", "tumour cells below the hypoxia threshold"),
                       necrotic_sites=("sites", "necrotic sites without a tumour cell")),
    frames={"necrotic": ("necrotic", "flag", "1 = necrotic site (a tumour cell died of anoxia there)")},
    colour="#6b4f3a",
    curves={"hypoxic_cells": ("hypoxic tumour cells", "--"), "necrotic_sites": ("necrotic sites", ":")},
    markers={"necrotic": ("necrotic sites", "s", 1.5, 0.8)},
    observe="gpusim.reference.oxygen:observe", observer="oxygen_observe", observe_each_step=True,
    params="gpusim.reference.oxygen:params",
)

def agent_component(name: str, layer: str, field: str, offset: float, colour: str, recruited: tuple[str, str],
                    deaths: tuple[str, str], count: tuple[str, str], frame: tuple[str, str], marker: tuple,
                    **kw) -> Component:
    """A cell kind of the T-cell pattern beyond the CD8 T cells (DESIGN §10;
    kernels/agent.cuh): config section ``name`` (an :class:`gpusim.config.AgentConfig`),
    u8 site layer ``layer`` -- also the prefix of its kernel file, kernels,
    Params fields and Philox phases -- and three phases, entry at vessels,
    moves up the coarse-grid ``field`` and death, each ``offset`` after its
    CD8 counterpart (3, 7, 8), run by gpusim.engine.agent and
    gpusim.reference.agent.  ``recruited``, ``deaths``: its events; ``count``:
    its state observable (drawn as a growth curve); ``frame``: its frame
    (drawn over the snapshot with ``marker``: (marker, size, alpha)), each
    (name, description).  Its observable and its host values come from
    gpusim/reference/<layer>.py (``observe``, ``params``)."""
    phase = lambda what, pos, *args: Phase(f"{layer}_{what}", pos + offset, f"gpusim.engine.agent:{what}",  # noqa: E731
                                           f"gpusim.reference.agent:{what}", (layer, *args))
    return Component(
        name=name, section=name, on=lambda cfg: bool(getattr(cfg, name).enabled), kernel=f"{layer}.cu",
        site_arrays={layer: U8},  # 1 = a cell of the kind here
        phases=(phase("recruit", 3, field, recruited[0]), phase("migrate", 7, field), phase("death", 8, deaths[0])),
        events=counts(**{recruited[0]: ("cells", recruited[1]), deaths[0]: ("events", deaths[1])}),
        observables={**counts(**{count[0]: ("cells", count[1])}), **kw.pop("observables", {})},
        frames={frame[0]: (layer, "flag", frame[1])}, colour=colour,
        curves={count[0]: (count[1], "-")}, markers={frame[0]: (count[1], *marker)},
        observe=f"gpusim.reference.{layer}:observe", observer=f"{layer}_observe",
        params=f"gpusim.reference.{layer}:params", **kw)


# Regulatory T cells (config [tregs], kernels/treg.cu) and myeloid suppressor
# cells (MDSC / M2-like; config [myeloid], kernels/myeloid.cu, drawn by the
# ccl2 field).  Both couple into tcell_kill: one in contact suppresses the
# kill and the expansion; myeloid cells also into tcell_recruit (one on or
# beside a vessel blocks CD8 entry) and tcell_migrate (a CD8 T cell beside one
# is held).  Each phase runs just after its CD8 counterpart, the Tregs' first.
TREGS, MYELOID = (agent_component(*row[:-1], **row[-1]) for row in (
    ("tregs", "treg", "chemokine", 0.5, "#e08a00",
     ("tregs_recruited", "regulatory T cells recruited at vessels in the step"),
     ("treg_deaths", "regulatory T-cell deaths in the step (lifespan, depletion, chemotherapy)"),
     ("tregs", "regulatory T cells"), ("tregs", "1 = regulatory T cell"), ("D", 2.0, 0.8),
     dict(observables={"cd8_treg_ratio": (np.float64, "ratio", "CD8 T cells per regulatory T cell (CD8 count if "
                                                              "none)")}, derive="gpusim.reference.treg:ratio")),
    ("myeloid", "myeloid", "ccl2", 0.7, "#3f007d",
     ("myeloid_recruited", "myeloid suppressor cells recruited at vessels in the step"),
     ("myeloid_deaths", "myeloid suppressor deaths in the step (lifespan, depletion, chemotherapy)"),
     ("myeloid_cells", "myeloid suppressor cells"),
     ("myeloid", "1 = myeloid suppressor cell"), ("^", 5.0, 0.9), {}),
))

#: Every component, in the order their arrays, events and frames are listed.
def _tcell_arrest(cfg) -> bool:
    return cfg.tcell_arrest_steps() > 0


TCELL_ARREST = Component(
    # Arrest on engagement (config immune.engagement_arrest_minutes, off at
    # 0): a T cell that recognises its target stays for the arrest time.  No
    # phase of its own: tcell_kill starts the countdown, tcell_move_propose
    # holds the T cell while it runs, tcell_death counts it down (and clears
    # it where a T cell dies).  Nonzero only under a T cell, so the T cells'
    # occupancy tiles it; its section is [immune], stored as it always was.
    name="tcell_arrest", section="immune", stored_at_default=True, on=_tcell_arrest,
    site_arrays={"tcell_engaged": U8},  # steps of arrest left for the T cell here, 0 = free
    key=lambda cfg: (_tcell_arrest(cfg),),
)

COMPONENTS: tuple[Component, ...] = (TUMOUR, TCELLS, CHEMOKINE, IFNG, TREGS, OXYGEN, CCL2, MYELOID, TCELL_ARREST)

#: Kernel files of the components, then the shared ones (initial state,
#: selection, observables, active tiles), in the order they are compiled together.
KERNEL_SOURCES: tuple[str, ...] = (*dict.fromkeys(c.kernel for c in COMPONENTS if c.kernel), "initial.cu",
                                   "select.cu", "observe.cu", "tiles.cu")

#: The diffusing fields, in the order of their records in ``Params`` (field index).
FIELDS: tuple[Component, ...] = tuple(c for c in COMPONENTS if c.diffusing is not None)


def field_index(name: str) -> int:
    """Index of diffusing field ``name`` (its record in ``Params``)."""
    return [c.name for c in FIELDS].index(name)


def field_value(c: Component) -> str:
    """The value array of diffusing field ``c``."""
    return c.diffusing.value or c.name

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
    """Work arrays of the kernel engine beside the state (name -> (dtype, size)):
    each component's, and each diffusing field's (:meth:`FieldRecord.scratch`)."""
    return {k: v for c in active(cfg)
            for k, v in {**c.scratch, **(c.diffusing.scratch(c.name) if c.diffusing else {})}.items()}


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
