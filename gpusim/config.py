"""Run configuration: pydantic v2 models loaded from TOML.

Every rate carries its unit in its name; every field is range-checked; an
unknown key is an error (a typo must never silently fall back to a default).

>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"lattice": {"shape": [64, 64]}})
>>> cfg.lattice.n_sites
4096
>>> cfg = apply_overrides(cfg, ["tumour.division_rate_per_day=0.5"])
>>> cfg.tumour.division_rate_per_day
0.5
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import tomli_w
from pydantic import BaseModel, Field, StrictInt, ValidationError, field_validator, model_serializer, model_validator

from .components import COMPONENTS
from .errors import InputError
from .section import Section as _Section
from .therapy import AdoptiveTransfer, TherapyEntry, regimen_problems

#: Config times are in days and minutes; kernels count steps of dt minutes.
MINUTES_PER_DAY = 1440.0


#: Most inner iterations one step may take: chemokine diffusion substeps, and
#: T-cell moves (speed x dt / dx).  Ten times what the slowest documented case
#: needs -- one-day steps with PhysiCell's D = 1000 um^2/min on the default
#: 40 um field (3,600 substeps in 2D, 5,400 in 3D), T cells at 10 um/min for a
#: day on 10 um sites (1,440 moves) -- so a config past it is a typo (a rate in
#: the wrong unit) that would sit in its first step for hours.
MAX_SUBSTEPS_PER_STEP = 10_000
#: The longest arrest on engagement, in steps (a T cell's countdown is one byte per site).
MAX_ARREST_STEPS = 255




class SimulationConfig(_Section):
    seed: int = Field(1, ge=0, lt=2**64, description="64-bit Philox key of the run")
    steps: int = Field(1000, ge=0, description="number of time steps to run")
    dt_minutes: float = Field(10.0, gt=0.0, le=MINUTES_PER_DAY)
    active_tiles: bool = Field(True, description="kernel backends step only the tiles that hold cells "
                               "(false: every site, for comparison); results are identical either way")

    @property
    def dt_days(self) -> float:
        """The time step in days (the unit of every rate and schedule)."""
        return self.dt_minutes / MINUTES_PER_DAY


class LatticeConfig(_Section):
    shape: tuple[StrictInt, ...] = Field((128, 128), strict=False, description="(nx, ny) or (nx, ny, nz) sites")
    dx_um: float = Field(10.0, ge=1.0, le=1000.0, description="lattice spacing = one cell diameter (1-1000 um)")
    neighbourhood: Literal["von_neumann", "moore"] = "von_neumann"
    boundary: Literal["closed", "periodic"] = "closed"

    @field_validator("shape")
    @classmethod
    def _shape_ok(cls, v):
        if len(v) not in (2, 3):
            raise ValueError("give 2 (nx, ny) or 3 (nx, ny, nz) extents")
        if any(n < 1 for n in v):
            raise ValueError("every extent must be >= 1")
        total = 1
        for n in v:
            total *= n
        if total >= 2**32 - 1:
            raise ValueError("at most 2**32 - 2 sites (site indices are uint32)")
        return tuple(v)

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def n_sites(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class ImmunogenicityConfig(_Section):
    """Distribution of a new neoantigen's immunogenicity a (Lakatos 2020:
    exponential, mean ~0.2), truncated to [0, 1]."""

    distribution: Literal["exponential", "fixed"] = "exponential"
    mean: float = Field(0.2, ge=0.0, le=1.0)


#: Bound on mutations_per_division: the kernels cap a daughter's new
#: mutations at 16 (GPUSIM_MUTATION_TABLE), exceeded with P(k > 16) < 2e-6.
MAX_MUTATIONS_PER_DIVISION = 4.0


class TumourConfig(_Section):
    initial_radius_cells: float = Field(2.0, ge=0.0, description="founder ball radius, in sites")
    initial_recognition: float = Field(0.0, ge=0.0, le=1.0, description="founder clone's r")
    division_rate_per_day: float = Field(1.0, ge=0.0)
    death_rate_per_day: float = Field(0.1, ge=0.0)
    max_divisions: int = Field(10, ge=1, le=63, description="divisions of a non-stem daughter")
    stem_symmetric_division_prob: float = Field(
        0.1, ge=0.0, le=1.0, description="chance a stem cell's daughter is stem (Enderling 2009: 0.1)"
    )
    initial_cells_stem: bool = True
    initial_pdl1: bool = Field(False, description="founder clone is PD-L1 high")
    initial_hla_loss: bool = Field(False, description="founder clone has lost antigen presentation")
    mutations_per_division: float = Field(
        0.3, ge=0.0, le=MAX_MUTATIONS_PER_DIVISION,
        description="mean new mutations of a daughter, k ~ Poisson(mu) (capped at 16; see kernels/abi.cuh)")
    neoantigen_fraction: float = Field(
        0.25, ge=0.0, le=1.0, description="chance that a new mutation is a neoantigen (mu x fraction = 0.075 "
                                          "neoantigens per division: Lakatos 2020; Kather 2017)")
    pdl1_prob_per_division: float = Field(1e-6, ge=0.0, le=1.0)
    hla_loss_prob_per_division: float = Field(1e-6, ge=0.0, le=1.0)
    immunogenicity: ImmunogenicityConfig = Field(default_factory=ImmunogenicityConfig)

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data):
        if isinstance(data, dict) and "neoantigen_prob_per_division" in data:
            p = data["neoantigen_prob_per_division"]
            hint = (f"mutations_per_division = {-math.log1p(-p):.6g} with neoantigen_fraction = 1"
                    if isinstance(p, (int, float)) and 0 <= p < 1 else
                    "mutations_per_division = -ln(1 - p) with neoantigen_fraction = 1")
            raise ValueError(f"neoantigen_prob_per_division was replaced by mutations_per_division and "
                             f"neoantigen_fraction; the same chance of a neoantigen per division is {hint}")
        return data


class ChemokineConfig(_Section):
    """Immunostimulatory chemokine (PhysiCell cancer-immune sample: D 1000
    um^2/min, decay 0.016/min, secretion 10/min).  The field lives on a grid
    ``grid_coarsening`` times coarser than the cells (explicit diffusion at
    D dt / dx^2 ~ 100 would otherwise need hundreds of substeps per step)."""

    diffusion_um2_per_min: float = Field(1000.0, ge=0.0)
    decay_per_min: float = Field(0.016, ge=0.0)
    secretion_per_cell_per_min: float = Field(10.0, ge=0.0, description="per tumour cell, into its field cell")
    kill_burst: float = Field(50.0, ge=0.0, description="released where a tumour cell is killed")
    grid_coarsening: int = Field(4, ge=1, le=64, description="lattice sites per field cell along each axis")
    diffusion_substeps: int | None = Field(
        None, ge=1, description="explicit substeps per step (default: the fewest that are stable)"
    )


class ImmuneConfig(_Section):
    """T cells: recruitment at vessels, killing, exhaustion, migration, death.

    Arrest on engagement (``engagement_arrest_minutes``, 0 = off, the
    default): a CTL stops on a tumour cell whose antigen it recognises and
    stays while it kills it, which in tumours takes hours (Boissonnas et al.
    2007, J Exp Med 204:345: CTLs arrest in contact with antigen-bearing
    tumour cells and resume migration where the tumour cells are dead;
    Breart et al. 2008, J Clin Invest 118:1390: killing one target takes
    ~6 h on average).  A kill attempt that recognises its target (before
    PD-L1, Tregs, hypoxia or myeloid cells act) holds the T cell for this
    time, rounded to whole steps (at least one), counted from the latest
    such engagement; it moves again once the time has passed.

    Re-invigoration under PD-1 blockade (``reinvigoration_rate_per_day``, 0
    = off, the default): exhaustion is a level that PD-L1 contacts raise (a
    T cell at ``exhaustion_threshold`` no longer kills).  Blocking PD-1
    lets exhausted CD8 T cells recover effector function (Barber et al.
    2006, Nature 439:682; Huang et al. 2017, Nature 545:60: Ki67+ PD-1+
    CD8 T cells rise in blood within 3 weeks of pembrolizumab), but the
    recovery lasts only while the blockade does (Pauken et al. 2016,
    Science 354:1160: the cells re-exhaust when antigen persists).  Each
    step, a living T cell with exhaustion above 0 sheds one level with
    probability 1 - exp(-rate x blockade x dt): none without blockade, and
    once the blockade ends PD-L1 contacts exhaust it again.  Kills spent
    are not restored."""

    enabled: bool = True
    vessel_density: float = Field(0.02, ge=0.0, le=1.0, description="fraction of sites that are vessels")
    recruitment_rate_per_day: float = Field(1.0, ge=0.0, description="per empty vessel at saturating chemokine")
    recruitment_half_saturation: float = Field(50.0, gt=0.0, description="chemokine giving half the rate")
    speed_um_per_min: float = Field(2.0, ge=0.0, description="PhysiCell 1 um/min; intravital up to ~10")
    chemotaxis: float = Field(0.1, ge=0.0, description="move weight 1 + chemotaxis * max(0, c_j - c_i)")
    engagement_arrest_minutes: float = Field(
        0.0, ge=0.0, description="a T cell that recognises its target stays this long (0: off; Breart 2008: ~360)")
    kill_attempt_rate_per_day: float = Field(96.0, ge=0.0, description="one attempt per 15 min (PhysiCell)")
    kills_per_tcell: int = Field(5, ge=1, le=15, description="Kather 2017 IMkmax = 5")
    expansion_prob_per_kill: float = Field(0.1, ge=0.0, le=1.0)
    pdl1_suppression: float = Field(0.9, ge=0.0, le=1.0, description="kill probability lost to PD-L1 (s)")
    exhaustion_prob_per_pdl1_contact: float = Field(0.2, ge=0.0, le=1.0)
    exhaustion_threshold: int = Field(3, ge=1, le=7, description="contacts that exhaust a T cell")
    reinvigoration_rate_per_day: float = Field(
        0.0, ge=0.0, description="under full PD-1 blockade a T cell sheds one exhaustion level at this rate "
                                 "(0: off; Huang 2017)")
    lifespan_days: float = Field(10.0, gt=0.0, description="PhysiCell: apoptosis 1/(10 d)")
    exhausted_death_rate_per_day: float = Field(0.5, ge=0.0, description="exhausted or spent T cells")
    initial_tcells: int = Field(0, ge=0, description="T cells placed at random sites at t = 0")

    #: Rules added to [immune] after v2, left out of dumps while at their default (off).
    _LATER_RULES: ClassVar[tuple[str, ...]] = ("engagement_arrest_minutes", "reinvigoration_rate_per_day")

    @model_serializer(mode="wrap")
    def _later_rules_left_out(self, handler):
        # As a component's section at its defaults (Config): the stored config
        # of a run that does not use a later rule (run files, sweep
        # fingerprints) stays what it was before the rule existed.
        data = handler(self)
        if isinstance(data, dict):
            for name in self._LATER_RULES:
                if getattr(self, name) == type(self).model_fields[name].default:
                    data.pop(name, None)
        return data


class InterferonConfig(_Section):
    """IFN-gamma and adaptive PD-L1 (adaptive immune resistance: Taube et
    al. 2012, Sci Transl Med 4:127ra37, PD-L1 on tumour cells where
    IFN-gamma-secreting TILs are; Spranger et al. 2013, Sci Transl Med
    5:200ra116, PD-L1 induced by CD8 T cells through IFN-gamma).  Off by
    default.

    A CD8 T cell that engages a tumour cell it recognises (a kill attempt on
    a visible clone that passes recognition) releases
    ``secretion_per_engagement`` into its field cell (the chemokine's grid:
    ``chemokine.grid_coarsening``); the field decays at ``decay_per_min``.  A
    tumour cell whose field cell holds at least ``induction_threshold`` is
    PD-L1-induced (a per-cell flag); once exposure stops it loses the flag at
    ``loss_rate_per_day``.  Induced PD-L1 suppresses killing and exhausts T
    cells exactly as the heritable PD-L1-high flag does
    (``immune.pdl1_suppression``, ``immune.exhaustion_prob_per_pdl1_contact``),
    and checkpoint blockade counters both.

    Defaults (model assumptions, to calibrate): IFN-gamma acts within tens of
    micrometres of the secreting T cell in tumours (Thibaut et al. 2020, Nat
    Commun 11:2136; Hoekstra et al. 2020, Cancer Cell 38:700, reach up to
    ~100 um), here the 40 um field cell (the field does not diffuse: its
    record in gpusim/components.py names no diffusivity); a decay of
    0.01/min (half-life ~70 min, the order of cytokine clearance in tissue,
    Gong et al. 2017, J R Soc Interface 14:20170320) and a threshold that one
    engaging T cell in a field cell exceeds; induced PD-L1 decays over ~1-2
    days after IFN-gamma withdrawal (loss 0.5/day)."""

    enabled: bool = False
    secretion_per_engagement: float = Field(
        1.0, ge=0.0, description="IFN-gamma released per engagement of a recognised tumour cell (amount per site)")
    decay_per_min: float = Field(0.01, ge=0.0, description="first-order decay of the field")
    induction_threshold: float = Field(
        0.05, gt=0.0, description="field concentration (amount per site volume) that induces PD-L1")
    loss_rate_per_day: float = Field(0.5, ge=0.0, description="induced PD-L1 lost at this rate once unexposed")


#: The fields of :class:`AgentConfig` whose defaults a kind sets for itself.
_PER_DAY = Annotated[float, Field(ge=0.0)]
_FRACTION = Annotated[float, Field(ge=0.0, le=1.0)]


class AgentConfig(_Section):
    """What every cell kind of the T-cell pattern beyond the CD8 T cells
    (:class:`TregConfig`, :class:`MyeloidConfig`) says: entry at vessels
    (a rate saturating in the field that draws the kind), a chemotactic
    random walk up that field through the claim protocol, a lifespan, the
    share of a CD8 T cell's kill and expansion it suppresses by contact (on
    the T cell's site or a neighbouring one), and the death rate a depleting
    therapy adds at full level (kernels/agent.cuh, gpusim/reference/agent.py)."""

    enabled: bool = False
    recruitment_rate_per_day: _PER_DAY = Field(0.3, description="per empty vessel at saturating attractant")
    recruitment_half_saturation: float = Field(50.0, gt=0.0, description="attractant giving half the rate")
    speed_um_per_min: float = Field(2.0, ge=0.0)
    chemotaxis: float = Field(0.1, ge=0.0, description="move weight 1 + chemotaxis * max(0, c_j - c_i)")
    lifespan_days: float = Field(10.0, gt=0.0)
    suppression: _FRACTION = Field(0.5, description="kill and expansion probability a CD8 T cell loses next to one")
    depletion_rate_per_day: _PER_DAY = Field(1.0, description="death rate added at a depleting therapy's full level")


class TregConfig(AgentConfig):
    """Regulatory T cells (off by default): recruited at vessels (their own
    rate, drawn by the chemokine as CD8 T cells are), chemotactic random walk
    through the claim protocol, lifespan; a CD8 T cell in contact with a
    Treg (the Treg on its site or a neighbouring one) kills and expands with
    (1 - ``suppression``) of its usual probability.  Anti-CTLA-4
    (``ctla4_blockade`` therapy, or any therapy that sets the step's Treg
    depletion level) removes Tregs at ``depletion_rate_per_day`` x level.

    Contact rather than a suppressive field: Treg suppression of CD8
    effector function is contact- and short-range-dependent in tumours
    (CTLA-4 trans-endocytosis of CD80/86, local IL-2 consumption, granzyme;
    Mempel et al. 2006, Immunity 25:129, Tregs abrogate CTL degranulation at
    the tumour; Sakaguchi et al. 2020, Annu Rev Immunol 38:541), and a
    neighbour test costs a byte per neighbour where a kill happens, no field.

    Defaults (model assumptions where no citation): recruitment 0.3/day per
    empty vessel at saturating chemokine (CD8's 1.0/day), so that CD8/Treg
    ratios land in the range reported for human tumours, ~1-10 (Sato et al.
    2005, PNAS 102:18538); speed and chemotaxis as CD8 T cells; lifespan 10
    days (Treg turnover of days: Vukmanovic-Stejic et al. 2006, J Clin Invest
    116:2423); suppression 0.5; anti-CTLA-4 depletes intratumoural Tregs
    within days (Simpson et al. 2013, J Exp Med 210:1695): 1/day at full level."""


class Ccl2Config(_Section):
    """A CCL2-like myeloid-attracting chemokine (off by default): secreted
    by tumour cells, diffusing and decaying on the chemokine's coarse grid
    (the shared field kernels, kernels/field.cu).  It draws myeloid
    suppressor cells (``[myeloid]``) in through the vessels and up its
    gradient: tumour-derived CCL2 recruits CCR2+ inflammatory monocytes that
    become tumour-associated macrophages (Qian et al. 2011, Nature 475:222).

    Defaults (model assumptions of the chemokine's order, PhysiCell's
    immunostimulatory factor: D 1000 um^2/min, decay 0.016/min, secretion
    10/min): a ~10 kDa chemokine diffusing at ~600 um^2/min (~10 um^2/s in
    tissue), removed with a ~1 h half-life (0.01/min), secreted at 10 per
    tumour cell per min."""

    enabled: bool = False
    diffusion_um2_per_min: float = Field(600.0, ge=0.0)
    decay_per_min: float = Field(0.01, ge=0.0)
    secretion_per_cell_per_min: float = Field(10.0, ge=0.0, description="per tumour cell, into its field cell")
    diffusion_substeps: int | None = Field(
        None, ge=1, description="explicit substeps per step (default: the fewest that are stable)"
    )


class MyeloidConfig(AgentConfig):
    """Myeloid suppressor cells (off by default; MDSC / M2-like
    tumour-associated macrophages): recruited at vessels with a probability
    that saturates in the local CCL2 (``[ccl2]``, which must be on), a
    chemotactic random walk up CCL2 through the claim protocol (the Tregs'
    move), lifespan; a CD8 T cell in contact with one (on its site or a
    neighbouring one) kills and expands with (1 - ``suppression``) of its
    usual probability.

    Contact rather than a suppressive field: MDSC suppression of T cells
    needs close cell-cell contact (arginase-1 depleting L-arginine, iNOS and
    reactive oxygen / peroxynitrite nitrating the T-cell receptor;
    Gabrilovich & Nagaraj 2009, Nat Rev Immunol 9:162), and a neighbour
    test costs a byte per neighbour where a kill happens, no field.

    Defaults (model assumptions where no citation): recruitment 1/day per
    empty vessel at saturating CCL2 -- tumour CCL2 recruits CCR2+
    inflammatory monocytes that become the tumour's macrophages (Qian et
    al. 2011, Nature 475:222), the most abundant immune cells of many
    tumours; half-saturation 50 (the T cells' recruitment levels); 1 um/min,
    chemotaxis 0.1 up CCL2; lifespan 7 days; suppression 0.5.  CSF1R
    inhibition (``csf1r_blockade`` therapy) removes them at
    ``depletion_rate_per_day`` x level: 0.5/day at full level, most tumour
    macrophages gone within 1-2 weeks (Ries et al. 2014, Cancer Cell 25:846;
    Pyonteck et al. 2013, Nat Med 19:1264)."""

    recruitment_rate_per_day: _PER_DAY = 1.0  # at saturating CCL2
    speed_um_per_min: Annotated[float, Field(ge=0.0)] = 1.0
    lifespan_days: Annotated[float, Field(gt=0.0)] = 7.0
    depletion_rate_per_day: _PER_DAY = 0.5  # at full CSF1R inhibition
    tcell_hold: _FRACTION = Field(0.5, description="chance that a CD8 T cell beside one skips a move (held)")
    vessel_block: _FRACTION = Field(0.5, description="chance that one on or beside a vessel blocks a CD8 T cell's entry")


class OxygenConfig(_Section):
    """Oxygen and hypoxia (off by default).  Oxygen (mmHg) is supplied where
    vessels are (a field cell holding a vessel site is held at
    ``supply_mmHg``; with ``boundary_supply`` the faces of a closed lattice
    too: a tumour in well-perfused tissue or a spheroid in medium), taken up
    by tumour cells and diffuses on the chemokine's coarse grid.  Below
    ``hypoxia_mmHg`` tumour cells do not divide and T cells kill them with
    (1 - ``hypoxic_kill_suppression``) of their usual probability; below
    ``anoxia_mmHg`` they die by necrosis at ``necrosis_rate_per_day``
    (event ``necroses``), leaving a necrotic site until a tumour cell fills it.

    The profile that matters is the steady state, set by the penetration
    length L = sqrt(D / k) (k = uptake per tumour cell): PhysiCell's oxygen
    (D = 100,000 um^2/min, uptake 10/min, supply 38 mmHg; Ghaffarizadeh et
    al. 2018, PLoS Comput Biol 14:e1005991) gives L = 100 um but would need
    thousands of explicit substeps per step.  Oxygen equilibrates within
    seconds, so D and k are both scaled down by the same factor: the steady
    profile is the same, reached within ~1/k.  Defaults: D = 100 um^2/min,
    k = 0.03/min (L ~ 58 um: a viable rim of ~150-200 um around anoxia, the
    Thomlinson & Gray 1955 cord radius, Br J Cancer 9:539, and Grimes et al.
    2014, J R Soc Interface 11:20131124, 100-250 um); thresholds as
    PhysiCell's (hypoxic 15 mmHg, necrotic 5 mmHg); necrosis 2/day; hypoxia
    halves T-cell killing (hypoxia and adenosine impair CTL function:
    Vuillefroy de Silly et al. 2016, Front Immunol 7:547; a model assumption
    to calibrate)."""

    enabled: bool = False
    diffusion_um2_per_min: float = Field(100.0, ge=0.0, description="effective (scaled) diffusivity")
    uptake_per_cell_per_min: float = Field(0.03, ge=0.0, description="first-order uptake per tumour cell (scaled)")
    supply_mmHg: float = Field(38.0, gt=0.0, description="at vessels (PhysiCell: 38 mmHg)")
    boundary_supply: bool = Field(False, description="also hold the faces of a closed lattice at supply_mmHg")
    hypoxia_mmHg: float = Field(15.0, ge=0.0, description="below: no division, weaker killing")
    anoxia_mmHg: float = Field(5.0, ge=0.0, description="below: necrosis")
    necrosis_rate_per_day: float = Field(2.0, ge=0.0)
    hypoxic_kill_suppression: float = Field(0.5, ge=0.0, le=1.0,
                                            description="kill probability lost on a hypoxic target")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.anoxia_mmHg <= self.hypoxia_mmHg <= self.supply_mmHg:
            raise ValueError(f"need anoxia_mmHg <= hypoxia_mmHg <= supply_mmHg (got {self.anoxia_mmHg:g}, "
                             f"{self.hypoxia_mmHg:g}, {self.supply_mmHg:g})")
        return self


class OutcomeConfig(_Section):
    """The three Es of immunoediting (plus ``progressing``), and RECIST-like response.

    A run that neither eliminated nor escaped is ``equilibrium`` only when the
    tumour is held in check over the trailing ``equilibrium_window_days``: its
    size at the end is at most (1 + ``equilibrium_band``) times its size at
    the window's start.  Otherwise it is ``progressing`` (growing, below
    escape size).
    Equilibrium in immunoediting is a tumour held in check for a long time
    (Koebel et al. 2007, Nature 450:903: occult masses of stable size), not a
    tumour still growing at the end.  Defaults: 15 days (half of the shipped
    30-day scenarios) is fifteen cell cycles (division ~1/day), in which an
    unchecked tumour grows by orders of magnitude; a band of 1.0 (doubling)
    lies above the tens of percent by which a tumour of a few hundred cells
    held by T cells fluctuates from day to day
    (configs/immunoediting_equilibrium.toml), noise that RECIST 1.1's
    progression threshold (+20 % in diameter: +44 % cells in 2D, +73 % in 3D)
    would trip."""

    escape_cells: int = Field(20000, ge=1, description="tumour size that counts as escape")
    escape_at_edge: bool = Field(True, description="a tumour cell on a closed boundary counts as escape")
    equilibrium_window_days: float = Field(
        15.0, gt=0.0, description="trailing window judged for equilibrium (the whole run if shorter)")
    equilibrium_band: float = Field(
        1.0, ge=0.0, description="equilibrium: final size <= (1 + band) x size at the window's start")
    response_evaluation_day: float | None = Field(None, ge=0.0, description="default: end of run")


class AnalysisConfig(_Section):
    """Spatial statistics and the immune phenotype (``gpusim analyse``;
    gpusim.analysis.spatial).  Nothing here changes the simulation.

    The invasive margin is a band ``margin_width_um`` wide centred on the
    tumour boundary (Galon et al. 2006 use 1 mm on human colorectal
    tumours of centimetres; 60 um, three cells either side of the border,
    is the same idea at the scale of simulated tumours of 100-500 um
    radius, which keeps a core from a radius of about 40 um).  T-cell densities are in cells per mm^2 of a section one cell
    thick (exact in 2D; in 3D the volume density times one lattice spacing),
    the unit of immunohistochemistry.  Phenotype (Chen & Mellman 2017):
    ``desert`` when both core and margin are below
    ``desert_max_tcells_per_mm2``; else ``inflamed`` when the core holds at
    least ``inflamed_min_core_to_margin_ratio`` times the margin's density;
    else ``excluded``."""

    margin_width_um: float = Field(60.0, gt=0.0, description="invasive margin band, centred on the tumour boundary")
    desert_max_tcells_per_mm2: float = Field(
        50.0, ge=0.0, description="below this in core and margin: immune desert")
    inflamed_min_core_to_margin_ratio: float = Field(
        0.5, ge=0.0, description="core / margin T-cell density from which a tumour is inflamed")
    mixing_window_um: float = Field(100.0, gt=0.0, description="window edge for the clone Shannon diversity")


#: What a tissue section's cells become (gpusim.tissue): a gpusim cell kind,
#: or ``ignore`` (left out, counted as dropped).
SECTION_KINDS = ("tumour", "tcell", "vessel", "ignore")

#: Columns of a section's cell table that gpusim reads (``[initial.columns]``
#: maps them to the file's own names).
SECTION_COLUMNS = ("x_um", "y_um", "z_um", "cell_type", "clone", "tcell", "vessel", "pdl1", "hla", "r",
                   "recognition", "tcell_exhaustion", "tcell_kills_left")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex (what a run file's ``[initial] sha256`` holds)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError) as err:
        raise ValueError(f"{path}: cannot read ({err.__class__.__name__})") from None
    return digest.hexdigest()


class InitialConfig(_Section):
    """Start from a tissue section instead of a founder ball (``gpusim run
    --initial FILE``; :mod:`gpusim.tissue` reads it): a cell table (.csv,
    .parquet), an AnnData file (.h5ad: ``obsm["spatial"]`` and an ``obs``
    column of cell types) or a label image (.tif/.tiff, one class per label
    value).  ``file`` is resolved against the config file's directory;
    ``sha256`` is filled in when the config is loaded and checked when the
    state is built, so a run file's stored config names and fingerprints
    the section it started from."""

    file: str | None = Field(None, min_length=1, description="the section: .csv, .parquet, .h5ad, .tif or .tiff "
                             "(or given by --initial FILE)")
    sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$", description="SHA-256 of the file (filled in on load)")
    format: Literal["auto", "csv", "parquet", "h5ad", "tiff"] = Field(
        "auto", description="auto: from the file name's suffix")
    cell_types: dict[str, Literal["tumour", "tcell", "vessel", "ignore"]] = Field(
        default_factory=dict, description="the file's cell-type names (label values for images) -> gpusim kinds")
    columns: dict[str, str] = Field(default_factory=dict, description="gpusim column name -> the file's name")
    um_per_unit: float = Field(1.0, gt=0.0, description="micrometres per coordinate unit (or per image pixel)")
    origin_um: list[float] = Field(default_factory=list,
                                   description="subtracted from every position (um); empty: 0 on every axis")
    vessels: Literal["config", "section"] = Field(
        "config", description="config: the section's vessels plus those drawn from immune.vessel_density; "
                              "section: only the section's")

    @field_validator("file")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        return None if v is None else str(Path(v).expanduser().resolve())

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key not in SECTION_COLUMNS:
                raise ValueError(f"columns.{key}: not a section column (known: {', '.join(SECTION_COLUMNS)})")
        return v

    @model_validator(mode="after")
    def _hashed(self):
        if self.sha256 is None and self.file is not None:
            object.__setattr__(self, "sha256", file_sha256(self.file))  # not an assignment to validate again
        return self


class PatientConfig(_Section):
    """The patient a run simulates: what antibody doses and clearances
    depend on (gpusim.pk).  A cohort draws these per patient (a virtual
    population); a single run is the reference patient."""

    body_weight_kg: float = Field(80.0, gt=0.0, le=500.0, description="dose_mg_per_kg is per kg of this")
    clearance_factor: float = Field(1.0, gt=0.0, description="antibody clearances (CL, Q) x this")
    volume_factor: float = Field(1.0, gt=0.0, description="antibody volumes (V1, V2) x this")


class OutputConfig(_Section):
    frame_every_steps: int = Field(50, ge=0, description="lattice frames every N steps (0: none)")
    slices: bool = Field(False, description="3D lattices: frames are the mid-plane xy, xz and yz slices of every "
                         "field (/fields/<name>_xy ...); full 3D frames only at the start, at the end and every "
                         "full_frame_every_steps")
    full_frame_every_steps: int = Field(0, ge=0, description="with slices: full 3D frames also every N steps "
                                        "(0: only at the start and at the end)")
    checkpoint_every_steps: int = Field(
        500, ge=0, description="full state for exact restart every N steps (0: only at the end or on a signal)"
    )


class Config(_Section):
    """A whole run: ``[simulation]``, ``[lattice]``, ``[tumour]``, ``[chemokine]``,
    ``[immune]``, ``[ifng]``, ``[tregs]``, ``[oxygen]``, ``[ccl2]``, ``[myeloid]``, ``[[therapy]]`` entries, ``[outcome]``, ``[output]``,
    ``[analysis]``, ``[patient]``."""

    # default_factory, not a default instance: pydantic deep-copies a model
    # default on every validation (a third of a sweep plan's time per run).
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    lattice: LatticeConfig = Field(default_factory=LatticeConfig)
    tumour: TumourConfig = Field(default_factory=TumourConfig)
    chemokine: ChemokineConfig = Field(default_factory=ChemokineConfig)
    immune: ImmuneConfig = Field(default_factory=ImmuneConfig)
    ifng: InterferonConfig = Field(default_factory=InterferonConfig)
    tregs: TregConfig = Field(default_factory=TregConfig)
    oxygen: OxygenConfig = Field(default_factory=OxygenConfig)
    ccl2: Ccl2Config = Field(default_factory=Ccl2Config)
    myeloid: MyeloidConfig = Field(default_factory=MyeloidConfig)
    therapy: list[TherapyEntry] = Field(default_factory=list, description="[[therapy]] entries")
    outcome: OutcomeConfig = Field(default_factory=OutcomeConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    initial: InitialConfig | None = Field(None, description="start from a tissue section (gpusim.tissue)")
    patient: PatientConfig = Field(default_factory=PatientConfig)

    @model_serializer(mode="wrap")
    def _default_sections_left_out(self, handler):
        # [analysis] only changes what is computed from the frames, never the
        # run; [patient] and the section of a component added after v2 are
        # off (the reference patient, the component switched off) by default
        # (gpusim.components): each is left out of dumps while at its
        # defaults, so run files (their stored config) and sweep
        # fingerprints stay what they were before the section existed.
        data = handler(self)
        if isinstance(data, dict):
            for name in ("analysis", "patient", *(c.section for c in COMPONENTS if not c.stored_at_default)):
                if name in data and getattr(self, name) == type(getattr(self, name))():
                    data.pop(name)
            if self.initial is None:  # likewise [initial] (gpusim.tissue): absent unless used
                data.pop("initial", None)
        return data

    def diffusion_ratio(self, section: str = "chemokine") -> tuple[float, float]:
        """(D dt / dx_field^2 per step, the explicit scheme's per-substep
        stability bound 1 / (2 dim)) of the diffusing field configured in
        ``section`` (every field lives on the chemokine's coarse grid)."""
        dx = self.lattice.dx_um * self.chemokine.grid_coarsening
        ratio = self._field_key(section, "diffusion") * self.simulation.dt_minutes / dx**2
        return ratio, 1.0 / (2 * self.lattice.dim)

    def _field_key(self, section: str, what: str):
        """The value of the config key that the field record of ``section``
        names for ``what`` (None where the record names none)."""
        record = next(c.diffusing for c in COMPONENTS if c.section == section and c.diffusing is not None)
        key = getattr(record, what)
        return None if key is None else getattr(getattr(self, section), key)

    def field_substeps(self, section: str = "chemokine") -> int:
        """Explicit diffusion substeps per step of the field of ``section``:
        its ``diffusion_substeps``, else the fewest that are stable."""
        ratio, bound = self.diffusion_ratio(section)
        return self._field_key(section, "substeps") or max(1, math.ceil(ratio / bound))

    def chemokine_substeps(self) -> int:
        """:meth:`field_substeps` of the chemokine."""
        return self.field_substeps("chemokine")

    def tcell_moves(self) -> float:
        """T-cell moves per step, speed x dt / dx (the expected count)."""
        return self.immune.speed_um_per_min * self.simulation.dt_minutes / self.lattice.dx_um

    def tcell_arrest_steps(self) -> int:
        """Steps a T cell stays after recognising its target
        (``immune.engagement_arrest_minutes`` in whole steps, at least one;
        0: off, as it is without T cells): the one rule of whether the
        arrest component is on (gpusim.components) and of its kernel value
        (gpusim.params).

        >>> Config.model_validate({"immune": {"engagement_arrest_minutes": 360}}).tcell_arrest_steps()  # dt 10 min
        36
        """
        minutes = self.immune.engagement_arrest_minutes
        return max(1, round(minutes / self.simulation.dt_minutes)) if self.immune.enabled and minutes > 0 else 0

    def treg_moves(self) -> float:
        """Regulatory T-cell moves per step, speed x dt / dx (the expected count)."""
        return self.tregs.speed_um_per_min * self.simulation.dt_minutes / self.lattice.dx_um

    def myeloid_moves(self) -> float:
        """Myeloid suppressor moves per step, speed x dt / dx (the expected count)."""
        return self.myeloid.speed_um_per_min * self.simulation.dt_minutes / self.lattice.dx_um

    @model_validator(mode="after")
    def _check_counts_fit_the_lattice(self):
        # One cell per site: more T cells than sites cannot be placed (the
        # placement would silently stop at the free sites).
        sites = self.lattice.n_sites
        if self.immune.initial_tcells > sites:
            raise ValueError(f"immune.initial_tcells: {self.immune.initial_tcells} is more than the lattice's "
                             f"{sites} sites")
        for i, t in enumerate(self.therapy):
            if isinstance(t, AdoptiveTransfer) and t.cells > sites:
                raise ValueError(f"therapy[{i}].cells: {t.cells} is more than the lattice's {sites} sites")
        return self

    @model_validator(mode="after")
    def _check_diffusion_stability(self):
        for c in COMPONENTS:  # every diffusing field a run of this config holds
            if c.diffusing is not None and c.diffusing.diffusion and c.has_arrays(self):
                self._check_field_stability(c.section)
        return self

    def _check_field_stability(self, section: str) -> None:
        ratio, bound = self.diffusion_ratio(section)
        substeps = self._field_key(section, "substeps")
        diffusion = self._field_key(section, "diffusion")
        if substeps is None:
            if ratio / bound > MAX_SUBSTEPS_PER_STEP:  # before math.ceil, which overflows on inf
                raise ValueError(
                    f"{section}.diffusion_um2_per_min: {diffusion:g} needs "
                    f"{ratio / bound:.3g} stable diffusion substeps per step, above the ceiling of "
                    f"{MAX_SUBSTEPS_PER_STEP} (lower it or simulation.dt_minutes, or raise "
                    "chemokine.grid_coarsening)")
            return
        if substeps > MAX_SUBSTEPS_PER_STEP:
            raise ValueError(f"{section}.diffusion_substeps: {substeps} is above the ceiling "
                             f"of {MAX_SUBSTEPS_PER_STEP} substeps per step")
        if ratio / substeps > bound:
            need = math.ceil(ratio / bound)
            raise ValueError(
                f"{section}.diffusion_substeps: {substeps} substeps give D*dt/dx^2 = "
                f"{ratio / substeps:.3g} per substep, above the explicit scheme's stability "
                f"bound {bound:.3g}; use at least {need} (or leave it out to choose automatically)")

    @model_validator(mode="after")
    def _check_tcell_moves(self):
        for key, who, on, moves in (("immune", "T-cell", self.immune.enabled, self.tcell_moves()),
                                     ("tregs", "Treg", self.tregs.enabled, self.treg_moves()),
                                     ("myeloid", "myeloid", self.myeloid.enabled, self.myeloid_moves())):
            if on and moves > MAX_SUBSTEPS_PER_STEP:
                raise ValueError(
                    f"{key}.speed_um_per_min: {getattr(self, key).speed_um_per_min:g} um/min gives {moves:.3g} "
                    f"{who} moves per step (speed x dt / dx), above the ceiling of {MAX_SUBSTEPS_PER_STEP} "
                    "(lower it or simulation.dt_minutes)")
        arrest = self.immune.engagement_arrest_minutes / self.simulation.dt_minutes  # float: never round an inf
        if arrest >= MAX_ARREST_STEPS + 0.5:
            raise ValueError(
                f"immune.engagement_arrest_minutes: {self.immune.engagement_arrest_minutes:g} min is "
                f"{arrest:.4g} steps of {self.simulation.dt_minutes:g} min, above the ceiling of "
                f"{MAX_ARREST_STEPS} (a byte per site counts them)")
        if self.myeloid.enabled and not self.ccl2.enabled:
            raise ValueError("myeloid.enabled: myeloid suppressors are drawn by the CCL2 field; "
                             "set ccl2.enabled = true too")
        return self

    @model_validator(mode="after")
    def _check_schedule(self):
        problems = regimen_problems(self.therapy)
        if problems:
            raise ValueError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        return self

    def to_toml(self) -> str:
        """The resolved config as TOML text (what run files store)."""
        # simulation.active_tiles changes how fast, never what (gpusim/engine/tiles.py): left
        # out, so a run file is the same byte for byte whichever way it ran.
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True,
                                             exclude={"simulation": {"active_tiles"}}))


# --------------------------------------------------------------------------
# Loading, overrides and one-line errors


def format_validation_error(err: ValidationError, where: str) -> str:
    """One line naming the first bad key (and how many more there are)."""
    errors = err.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"] if not str(p).startswith(("tuple[", "function-"))]
    key = ".".join(loc)
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    else:
        msg = first["msg"].removeprefix("Value error, ")
        if "input" in first and not isinstance(first["input"], dict):
            msg += f" (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {key + ': ' if key else ''}{msg}{more}"


def validated(model: type[BaseModel], data: dict[str, Any], where: str):
    """``model`` (a config or sweep-spec model) from ``data``; a bad value is
    an :class:`InputError` naming ``where`` and the first bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputError(format_validation_error(err, where)) from None


def validate(data: dict[str, Any], where: str) -> Config:
    return validated(Config, data, where)


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read ({err.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: malformed TOML: {err}") from None


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """A value as TOML inline text (what ``--set key=VALUE`` parses back).

    >>> toml_value([{"kind": "vaccine", "start_day": 1.0, "on": True}, 1e-06])
    '[{kind = "vaccine", start_day = 1.0, on = true}, 1e-06]'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # repr round-trips floats exactly; inf/nan are TOML too
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{k if _BARE_KEY.match(k) else json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# Cached: a sweep's runs repeat each axis value many times.  The value is
# shared between calls, so it is only ever read (validated), never changed.
@functools.lru_cache(maxsize=65536)
def parse_override(item: str) -> tuple[tuple[str, ...], Any]:
    """``"a.b.c=value"`` -> (("a", "b", "c"), value); value is read as a TOML
    value (numbers, booleans, arrays, quoted strings), else a bare string."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise InputError(f"--set {item!r}: expected key.path=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return tuple(key.split(".")), value


def set_dotted(data: dict[str, Any], path: Sequence[str], value: Any, label: str) -> None:
    """Set ``value`` at ``path``, copying each table on the way: a table
    ``data`` shares with another dict is never changed in place."""
    node = data
    for part in path[:-1]:
        child = node.get(part, {})
        if not isinstance(child, dict):
            raise InputError(f"{label}: {'.'.join(path)}: {part} is not a table")
        node[part] = child = dict(child)
        node = child
    node[path[-1]] = value


def _with_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    # Copied along each override's path only (not deep): a sweep's plan
    # applies this to every one of up to MAX_RUNS runs.
    data = dict(data)
    for item in overrides:
        path, value = parse_override(item)
        set_dotted(data, path, value, f"--set {item}")
    return data


def apply_overrides(cfg: Config | dict[str, Any], overrides: list[str]) -> Config:
    """A new Config with ``key.path=value`` overrides applied and validated;
    ``cfg`` may be given as its ``model_dump(mode="json")`` (dumped once
    for many override lists, as a sweep's runs)."""
    data = cfg if isinstance(cfg, dict) else cfg.model_dump(mode="json")
    return validate(_with_overrides(data, overrides), "--set")


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a TOML scenario, apply ``--set`` overrides, validate.

    Raises :class:`InputError` with one line naming the file/key on any problem.
    """
    data = read_toml(path)
    if not data:  # an empty file (or only comments) is a mistake, not "all defaults"
        raise InputError(f"{path}: empty config (no settings); start from configs/quickstart.toml")
    _initial_beside(data, Path(path))
    cfg = validate(data, str(path))  # blame the file before any override
    return validate(_with_overrides(data, list(overrides)), "--set") if overrides else cfg


def _initial_beside(data: dict[str, Any], path: Path) -> None:
    """A relative ``[initial] file`` is relative to the config file's directory."""
    initial = data.get("initial")
    if isinstance(initial, dict) and isinstance(initial.get("file"), str):
        initial["file"] = str(path.parent / Path(initial["file"]).expanduser())


def config_from_toml_text(text: str, where: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{where}: malformed TOML: {err}") from None
    return validate(data, where)
