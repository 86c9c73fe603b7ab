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

import copy
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator

from .components import COMPONENTS
from .errors import InputError

#: Config times are in days and minutes; kernels count steps of dt minutes.
MINUTES_PER_DAY = 1440.0


#: Most inner iterations one step may take: chemokine diffusion substeps, and
#: T-cell moves (speed x dt / dx).  Ten times what the slowest documented case
#: needs -- one-day steps with PhysiCell's D = 1000 um^2/min on the default
#: 40 um field (3,600 substeps in 2D, 5,400 in 3D), T cells at 10 um/min for a
#: day on 10 um sites (1,440 moves) -- so a config past it is a typo (a rate in
#: the wrong unit) that would sit in its first step for hours.
MAX_SUBSTEPS_PER_STEP = 10_000


class _Section(BaseModel):
    # validate_assignment: parameters are checked when set from Python too.
    # allow_inf_nan=False: inf and nan are rejected in every float field (an
    # inf rate would otherwise pass "ge=0" and turn into a silent p = 1).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


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
    shape: tuple[int, ...] = Field((128, 128), description="(nx, ny) or (nx, ny, nz) sites")
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
    immunogenicity: ImmunogenicityConfig = ImmunogenicityConfig()

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
    """T cells: recruitment at vessels, killing, exhaustion, migration, death."""

    enabled: bool = True
    vessel_density: float = Field(0.02, ge=0.0, le=1.0, description="fraction of sites that are vessels")
    recruitment_rate_per_day: float = Field(1.0, ge=0.0, description="per empty vessel at saturating chemokine")
    recruitment_half_saturation: float = Field(50.0, gt=0.0, description="chemokine giving half the rate")
    speed_um_per_min: float = Field(2.0, ge=0.0, description="PhysiCell 1 um/min; intravital up to ~10")
    chemotaxis: float = Field(0.1, ge=0.0, description="move weight 1 + chemotaxis * max(0, c_j - c_i)")
    kill_attempt_rate_per_day: float = Field(96.0, ge=0.0, description="one attempt per 15 min (PhysiCell)")
    kills_per_tcell: int = Field(5, ge=1, le=15, description="Kather 2017 IMkmax = 5")
    expansion_prob_per_kill: float = Field(0.1, ge=0.0, le=1.0)
    pdl1_suppression: float = Field(0.9, ge=0.0, le=1.0, description="kill probability lost to PD-L1 (s)")
    exhaustion_prob_per_pdl1_contact: float = Field(0.2, ge=0.0, le=1.0)
    exhaustion_threshold: int = Field(3, ge=1, le=7, description="contacts that exhaust a T cell")
    lifespan_days: float = Field(10.0, gt=0.0, description="PhysiCell: apoptosis 1/(10 d)")
    exhausted_death_rate_per_day: float = Field(0.5, ge=0.0, description="exhausted or spent T cells")
    initial_tcells: int = Field(0, ge=0, description="T cells placed at random sites at t = 0")


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


class CheckpointBlockade(_Section):
    kind: Literal["checkpoint_blockade"]
    start_day: float = Field(ge=0.0)
    end_day: float = Field(ge=0.0)
    level: float = Field(ge=0.0, le=1.0, description="fraction of PD-1/PD-L1 signalling blocked")


class AdoptiveTransfer(_Section):
    kind: Literal["adoptive_transfer"]
    day: float = Field(ge=0.0)
    cells: int = Field(ge=1)
    where: Literal["tumour", "anywhere"] = "tumour"


class Vaccine(_Section):
    kind: Literal["vaccine"]
    start_day: float = Field(ge=0.0)
    end_day: float = Field(ge=0.0)
    recruitment_multiplier: float = Field(ge=0.0)


class Chemotherapy(_Section):
    kind: Literal["chemotherapy"]
    day: float = Field(ge=0.0, description="one pulse, in the step containing this time")
    tumour_kill_prob: float = Field(ge=0.0, le=1.0)
    tcell_kill_prob: float = Field(0.0, ge=0.0, le=1.0)


TherapyEntry = Annotated[
    Union[CheckpointBlockade, AdoptiveTransfer, Vaccine, Chemotherapy], Field(discriminator="kind")
]


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
    ``[immune]``, ``[[therapy]]`` entries, ``[outcome]``, ``[output]``,
    ``[analysis]``."""

    simulation: SimulationConfig = SimulationConfig()
    lattice: LatticeConfig = LatticeConfig()
    tumour: TumourConfig = TumourConfig()
    chemokine: ChemokineConfig = ChemokineConfig()
    immune: ImmuneConfig = ImmuneConfig()
    therapy: list[TherapyEntry] = Field(default_factory=list, description="[[therapy]] entries")
    outcome: OutcomeConfig = OutcomeConfig()
    output: OutputConfig = OutputConfig()
    analysis: AnalysisConfig = AnalysisConfig()

    @model_serializer(mode="wrap")
    def _default_sections_left_out(self, handler):
        # [analysis] only changes what is computed from the frames, never the
        # run, and the section of a component added after v2 is off by
        # default (gpusim.components): each is left out of dumps while at its
        # defaults, so run files (their stored config) and sweep
        # fingerprints stay what they were before the section existed.
        data = handler(self)
        if isinstance(data, dict):
            for name in ("analysis", *(c.section for c in COMPONENTS if not c.stored_at_default)):
                if name in data and getattr(self, name) == type(getattr(self, name))():
                    data.pop(name)
        return data

    def diffusion_ratio(self, section: str = "chemokine") -> tuple[float, float]:
        """(D dt / dx_field^2 per step, the explicit scheme's per-substep
        stability bound 1 / (2 dim)) of the diffusing field configured in
        ``section`` (every field lives on the chemokine's coarse grid)."""
        dx = self.lattice.dx_um * self.chemokine.grid_coarsening
        ratio = self._field_key(section, "diffusion") * self.simulation.dt_minutes / dx**2
        return ratio, 1.0 / (2 * self.lattice.dim)

    def _field_key(self, section: str, what: str):
        record = next(c.diffusing for c in COMPONENTS if c.section == section and c.diffusing is not None)
        return getattr(getattr(self, section), getattr(record, what))

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

    @model_validator(mode="after")
    def _check_diffusion_stability(self):
        for c in COMPONENTS:  # every diffusing field a run of this config holds
            if c.diffusing is not None and c.has_arrays(self):
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
        moves = self.tcell_moves()
        if self.immune.enabled and moves > MAX_SUBSTEPS_PER_STEP:
            raise ValueError(
                f"immune.speed_um_per_min: {self.immune.speed_um_per_min:g} um/min gives {moves:.3g} T-cell "
                f"moves per step (speed x dt / dx), above the ceiling of {MAX_SUBSTEPS_PER_STEP} "
                "(lower it or simulation.dt_minutes)")
        return self

    @model_validator(mode="after")
    def _check_schedule(self):
        for n, entry in enumerate(self.therapy):
            if hasattr(entry, "end_day") and entry.end_day < entry.start_day:
                raise ValueError(f"therapy[{n}] ({entry.kind}): end_day {entry.end_day} is before "
                                 f"start_day {entry.start_day}")
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


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` -> (["a", "b", "c"], value); value is read as a TOML
    value (numbers, booleans, arrays, quoted strings), else a bare string."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise InputError(f"--set {item!r}: expected key.path=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def set_dotted(data: dict[str, Any], path: list[str], value: Any, label: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"{label}: {'.'.join(path)}: {part} is not a table")
        node = child
    node[path[-1]] = value


def _with_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item)
        set_dotted(data, path, value, f"--set {item}")
    return data


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """A new Config with ``key.path=value`` overrides applied and validated."""
    return validate(_with_overrides(cfg.model_dump(mode="json"), overrides), "--set")


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a TOML scenario, apply ``--set`` overrides, validate.

    Raises :class:`InputError` with one line naming the file/key on any problem.
    """
    data = read_toml(path)
    if not data:  # an empty file (or only comments) is a mistake, not "all defaults"
        raise InputError(f"{path}: empty config (no settings); start from configs/quickstart.toml")
    cfg = validate(data, str(path))  # blame the file before any override
    return validate(_with_overrides(data, list(overrides)), "--set") if overrides else cfg


def config_from_toml_text(text: str, where: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{where}: malformed TOML: {err}") from None
    return validate(data, where)
