"""Host-side parameters: physical rates (float64) -> uint32 thresholds.

Kernels never see a rate or a float probability: an event happens when a
Philox word is below its threshold (DESIGN §3 rule 2), so the cpu, cuda and
NumPy backends agree bit for bit.  This module (with the ``params`` hooks
of later components, gpusim.components.Component.params, which use its
functions) is where rates become probabilities.

>>> threshold(0.5)
2147483648
>>> threshold(rate_probability(1.0, 1.0)) == threshold(1 - math.exp(-1))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .abi import constants
from .config import Config
from .lattice import full_shape, offsets

IMMUNO_TABLE = constants()["IMMUNO_TABLE"]
RECRUIT_LEVELS = constants()["RECRUIT_LEVELS"]
MUTATION_TABLE = constants()["MUTATION_TABLE"]
#: Recruitment levels span chemokine 0 .. RECRUIT_SPAN_K x half-saturation.
RECRUIT_SPAN_K = 16.0


def threshold(p: float) -> int:
    """uint32 threshold T for probability p: P(word < T) = T / 2**32.

    p = 1 maps to 2**32 - 1 (probability 1 - 2**-32)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability {p} outside [0, 1]")
    return min(int(round(p * 2.0**32)), 2**32 - 1)


def thresholds(p: np.ndarray) -> np.ndarray:
    """Vectorised :func:`threshold` (same rounding: half to even)."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probability outside [0, 1]")
    return np.minimum(np.round(p * 2.0**32), 2**32 - 1).astype(np.uint32)


def rate_probability(rate_per_day: float, dt_days: float) -> float:
    """P(at least one event in dt) for a Poisson process: 1 - exp(-rate dt)."""
    return -math.expm1(-rate_per_day * dt_days)


def immunogenicity_table(distribution: str, mean: float) -> np.ndarray:
    """uint32[IMMUNO_TABLE]: thresholds of the mid-point quantiles of the
    immunogenicity distribution (truncated to [0, 1]); a new neoantigen draws
    one entry uniformly, which samples the distribution without a
    transcendental function in a kernel."""
    if distribution == "fixed":
        a = np.full(IMMUNO_TABLE, mean)
    elif distribution == "exponential":
        u = (np.arange(IMMUNO_TABLE) + 0.5) / IMMUNO_TABLE
        a = np.minimum(-mean * np.log1p(-u), 1.0)
    else:
        raise ValueError(distribution)
    return thresholds(a)


def mutation_table(mean: float) -> np.ndarray:
    """uint32[MUTATION_TABLE]: thresholds of P(k > m), m = 0 .. 15, for
    k ~ Poisson(mean).  A daughter's first mutation word w gives
    k = #{m : w < table[m]}: the Poisson law by inversion, capped at 16,
    with no transcendental function in a kernel.  Old configs'
    per-division neoantigen probability p is mean = -ln(1 - p) with
    every mutation a neoantigen (P(k >= 1) = p).

    >>> t = mutation_table(0.0); int(t.max())
    0
    >>> t = mutation_table(1.0); round(int(t[0]) / 2**32, 6)   # P(k > 0) = 1 - e^-1
    0.632121
    """
    from scipy.stats import poisson

    return thresholds(poisson.sf(np.arange(MUTATION_TABLE), mean))


def migration_moves(moves: float) -> tuple[int, int, int]:
    """(substeps, full moves, threshold of the fractional move) for
    ``moves`` = speed dt / dx moves per step in expectation: the substep
    after the full moves is taken with probability equal to the fraction, so
    the walk's mean squared displacement per step is ``moves`` lattice moves.

    >>> migration_moves(1.5)
    (2, 1, 2147483648)
    >>> migration_moves(2.0)
    (2, 2, 0)
    """
    full = math.floor(moves)
    fraction = moves - full
    return full + (fraction > 0), full, threshold(fraction)


@dataclass(frozen=True)
class ModelParams:
    """Everything the rules need, already in kernel units.

    An attribute named like a field of ``Params`` (kernels/abi.cuh), field
    or property, is what the host writes into that field
    (:func:`gpusim.abi.params_values`); the rest are for the host only.
    """

    shape: tuple[int, int, int]  # nx, ny, nz
    nbr: np.ndarray  # int32[k, 3]
    periodic: bool
    key: tuple[int, int]  # seed low, high words
    p_tumour_divide: int
    p_tumour_death: int
    p_stem_symmetric: int
    max_divisions: int
    mutation_sf: np.ndarray  # uint32[MUTATION_TABLE]: thresholds of P(k > m)
    p_neoantigen: int
    p_mut_pdl1: int
    p_mut_hla: int
    immunogenicity: np.ndarray  # uint32[IMMUNO_TABLE]
    # chemokine field
    field_shape: tuple[int, int, int]  # fx, fy, fz
    coarsen: int
    field_dim: int
    # diffusing fields (gpusim.components.FIELDS order; field_records)
    field_substeps: tuple[int, ...]
    field_alpha: np.ndarray  # float32 per field
    field_secrete_tumour: np.ndarray  # concentration added per tumour cell per step
    field_secrete_tcell: np.ndarray  # concentration added per T cell per step
    field_per_count: np.ndarray  # concentration added per count (a kill, an engagement)
    field_takes_counts: tuple[int, ...]
    field_uptake_tumour: np.ndarray  # fraction of (uptake_ref - value) one tumour cell takes per step
    field_uptake_ref: np.ndarray
    field_supply_vessels: tuple[int, ...]
    field_supply_faces: tuple[int, ...]
    field_supply_value: np.ndarray
    field_decay_before: np.ndarray  # factor per step before the sources
    field_decay: np.ndarray  # factor per step after the diffusion
    chem_level_scale: np.float32
    # T cells
    immune_on: bool
    recruit_rate_per_day: float
    recruit_half_saturation: float
    dt_days: float
    p_kill_attempt: int
    pdl1_suppression: float
    exhaustion_prob: float
    exhaustion_threshold: int
    reinvigoration_rate_per_day: float  # under full blockade (ImmuneConfig)
    kills_per_tcell: int
    p_expand: int
    p_tcell_death: int
    p_tcell_death_exhausted: int
    n_moves: int  # migration substeps per step (the last one may be fractional)
    full_moves: int
    p_partial_move: int
    chemotaxis: np.float32
    tcell_arrest_steps: int  # steps a T cell stays after recognising its target (0: off)
    # The host values of later components (gpusim.components: each
    # Component.params hook's dict, merged), read as attributes like the
    # fields above: ``mp.treg_on``, ``mp.p_necrosis``.
    parts: dict = field(default_factory=dict)

    def __getattr__(self, name: str):
        # Only reached for a name that is not a field or property.
        parts = self.__dict__.get("parts")
        if parts is not None and name in parts:
            return parts[name]
        raise AttributeError(f"{type(self).__name__} has no {name!r} (no component's params hook sets it)")

    @property
    def n_sites(self) -> int:
        nx, ny, nz = self.shape
        return nx * ny * nz

    @property
    def chem_substeps(self) -> int:
        """Diffusion substeps per step of the chemokine (field 0)."""
        return self.field_substeps[0]

    @property
    def chem_alpha(self) -> np.float32:
        """D dt_sub / dx_field^2 of the chemokine (field 0)."""
        return self.field_alpha[0]

    @property
    def block_sites(self) -> float:
        """Lattice sites per field cell: a concentration is an amount per site volume."""
        return float(self.coarsen**self.field_dim)

    @property
    def n_field(self) -> int:
        fx, fy, fz = self.field_shape
        return fx * fy * fz

    # The struct's spelling of the tuples above.
    nx = property(lambda self: self.shape[0])
    ny = property(lambda self: self.shape[1])
    nz = property(lambda self: self.shape[2])
    fx = property(lambda self: self.field_shape[0])
    fy = property(lambda self: self.field_shape[1])
    fz = property(lambda self: self.field_shape[2])
    key0 = property(lambda self: self.key[0])
    key1 = property(lambda self: self.key[1])
    n_nbr = property(lambda self: len(self.nbr))
    nbr_dx = property(lambda self: self.nbr[:, 0])
    nbr_dy = property(lambda self: self.nbr[:, 1])
    nbr_dz = property(lambda self: self.nbr[:, 2])


def diffusion_substeps(cfg: Config, section: str = "chemokine") -> tuple[int, float]:
    """(substeps, alpha = D dt_sub / dx_field^2) of the explicit scheme, for
    the diffusing field configured in ``section``.

    Stable while alpha <= 1 / (2 dim); the default is the fewest substeps
    that satisfy it, and an explicit count that breaks it is an error."""
    ratio, _ = cfg.diffusion_ratio(section)
    n = cfg.field_substeps(section)
    return n, ratio / n


def saturating_table(rate_per_day: float, half_saturation: float, level_scale: float, dt_days: float) -> np.ndarray:
    """uint32[RECRUIT_LEVELS]: entry threshold per chemokine level,
    p = 1 - exp(-rate * c / (c + K) * dt) at the level's mid-point."""
    c = (np.arange(RECRUIT_LEVELS) + 0.5) / float(level_scale)
    return thresholds(-np.expm1(-rate_per_day * c / (c + half_saturation) * dt_days))
def field_records(cfg: Config, block_sites: float) -> dict:
    """Every diffusing field's record (gpusim.components.FIELDS order), in
    kernel units: the ``field_*`` attributes of ModelParams.  A field a run
    of ``cfg`` does not hold gets zeros (its phase does not run).

    >>> from gpusim.components import field_index
    >>> rec = field_records(Config.model_validate({"oxygen": {"enabled": True}}), 16.0)
    >>> o, c = field_index("oxygen"), field_index("chemokine")
    >>> rec["field_supply_vessels"][o], float(rec["field_decay"][o]), rec["field_supply_vessels"][c]
    (1, 1.0, 0)
    """
    from .components import FIELDS

    dt_min = cfg.simulation.dt_minutes
    rec: dict[str, list] = {k: [] for k in _FIELD_INTS + _FIELD_FLOATS}
    for c in FIELDS:
        r, section = c.diffusing, getattr(cfg, c.section)
        values = _field_record(cfg, c.section, r, section, dt_min, block_sites) if c.has_arrays(cfg) else {}
        for k, v in rec.items():
            v.append(values.get(k, 0))
    return {k: tuple(int(x) for x in v) if k in _FIELD_INTS else np.array(v, dtype=np.float32)
            for k, v in rec.items()}


_FIELD_INTS = ("field_substeps", "field_takes_counts", "field_supply_vessels", "field_supply_faces")
_FIELD_FLOATS = ("field_alpha", "field_secrete_tumour", "field_secrete_tcell", "field_per_count",
                 "field_uptake_tumour", "field_uptake_ref", "field_supply_value", "field_decay_before", "field_decay")


def _field_record(cfg: Config, name: str, r, section, dt_min: float, block_sites: float) -> dict:
    """One held field's record (float64; :func:`field_records` rounds)."""
    substeps, alpha = diffusion_substeps(cfg, name) if r.diffusion else (0, 0.0)
    rate = {layer: getattr(section, key) for layer, key in r.secrete.items()}
    decay = math.exp(-getattr(section, r.decay) * dt_min) if r.decay else 1.0
    supply = getattr(section, r.supply) if r.supply else 0.0
    uptake = {layer: getattr(section, key) for layer, key in r.uptake.items()}
    return dict(
        field_substeps=substeps, field_alpha=alpha,
        field_secrete_tumour=rate.get("tumour", 0.0) * dt_min / block_sites,
        field_secrete_tcell=rate.get("tcell", 0.0) * dt_min / block_sites,
        field_per_count=getattr(section, r.counts[1]) / block_sites if r.counts else 0.0,
        field_takes_counts=int(r.counts is not None),
        # each cell takes up its site's share of the field cell, first order over the step
        field_uptake_tumour=-math.expm1(-uptake.get("tumour", 0.0) * dt_min) / block_sites,
        field_uptake_ref=supply if r.deficit else 0.0,
        field_supply_vessels=int(r.supply is not None),
        field_supply_faces=int(bool(r.supply_faces and getattr(section, r.supply_faces))),
        field_supply_value=0.0 if r.deficit else supply,
        field_decay_before=decay if r.decay_first else 1.0,
        field_decay=1.0 if r.decay_first else decay,
    )


def agent_params(section, layer: str, moves: float, level_scale: np.float32, dt_days: float) -> dict:
    """The Params values of a cell kind of the T-cell pattern
    (gpusim.components.agent_component), named by its ``layer``: entry table
    over the recruitment levels, moves per step, chemotaxis, death, the pass
    threshold of its contact suppression, the depletion rate at full level
    (for the step's ``p_<layer>_deplete``), from its config ``section``."""
    n_moves, full_moves, p_partial = migration_moves(moves)
    return {
        f"{layer}_on": int(section.enabled),
        f"{layer}_recruit": saturating_table(section.recruitment_rate_per_day if section.enabled else 0.0,
                                             section.recruitment_half_saturation, level_scale, dt_days),
        f"{layer}_n_moves": n_moves if section.enabled else 0,
        f"{layer}_full_moves": full_moves,
        f"p_{layer}_partial_move": p_partial,
        f"{layer}_chemotaxis": np.float32(section.chemotaxis),
        f"p_{layer}_death": threshold(rate_probability(1.0 / section.lifespan_days, dt_days)),
        f"p_{layer}_pass": threshold(1.0 - section.suppression),
        f"{layer}_depletion_rate_per_day": section.depletion_rate_per_day,
    }


def recruit_table(mp: ModelParams, multiplier: float) -> np.ndarray:
    """uint32[RECRUIT_LEVELS]: recruitment threshold per chemokine level,
    p = 1 - exp(-rate * multiplier * c / (c + K) * dt) at the level's mid-point."""
    return recruit_tables(LevelRuns([mp]), np.array([float(multiplier)]))[0]


def recruit_tables(runs: LevelRuns, multiplier: np.ndarray) -> np.ndarray:
    """:func:`recruit_table` of several runs at once, (runs, RECRUIT_LEVELS):
    every entry computed by the same float64 operations as one run's."""
    # Chemokine at the mid-point of each level, and c + K.
    level_c = (np.arange(RECRUIT_LEVELS) + 0.5)[None, :] / runs.chem_level_scale[:, None]
    level_c_plus_k = level_c + runs.recruit_half_saturation[:, None]
    rate = runs.recruit_rate_per_day[:, None] * multiplier[:, None] * level_c / level_c_plus_k
    return thresholds(-np.expm1(-rate * runs.dt_days[:, None]))


def fractions(q: np.ndarray) -> np.ndarray:
    """uint64 fixed-point fractions, 2**32 = 1, of ``q`` in [0, 1] (rounded
    half to even, as :func:`thresholds`): the priming weight a kernel
    multiplies a uint32 gap by without a float.

    >>> fractions(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 2147483648, 4294967296]
    """
    q = np.asarray(q, dtype=np.float64)
    if np.any((q < 0) | (q > 1)):
        raise ValueError("fraction outside [0, 1]")
    return np.round(q * 2.0**32).astype(np.uint64)


def model_params(cfg: Config) -> ModelParams:
    """Every run-constant value of a run of ``cfg`` in kernel units: the
    core's here, each later component's from its hook (:attr:`ModelParams.parts`).

    >>> mp = model_params(Config())
    >>> mp.p_tumour_divide > 0, mp.treg_on    # a core value; a component's (off by default)
    (True, 0)
    """
    dt_days = cfg.simulation.dt_days
    t, ch, im = cfg.tumour, cfg.chemokine, cfg.immune
    seed = cfg.simulation.seed
    shape = full_shape(cfg.lattice.shape)
    k = ch.grid_coarsening
    dim = cfg.lattice.dim
    field_shape = (-(-shape[0] // k), -(-shape[1] // k), -(-shape[2] // k) if dim == 3 else 1)
    block_sites = float(k**dim)  # concentration = amount per site volume
    n_moves, full_moves, p_partial_move = migration_moves(cfg.tcell_moves())
    level_scale = np.float32(RECRUIT_LEVELS / (RECRUIT_SPAN_K * im.recruitment_half_saturation))
    core = ModelParams(
        shape=full_shape(cfg.lattice.shape),
        nbr=offsets(cfg.lattice.neighbourhood, cfg.lattice.dim),
        periodic=cfg.lattice.boundary == "periodic",
        key=(seed & 0xFFFFFFFF, seed >> 32),
        p_tumour_divide=threshold(rate_probability(t.division_rate_per_day, dt_days)),
        p_tumour_death=threshold(rate_probability(t.death_rate_per_day, dt_days)),
        p_stem_symmetric=threshold(t.stem_symmetric_division_prob),
        max_divisions=t.max_divisions,
        mutation_sf=mutation_table(t.mutations_per_division),
        p_neoantigen=threshold(t.neoantigen_fraction),
        p_mut_pdl1=threshold(t.pdl1_prob_per_division),
        p_mut_hla=threshold(t.hla_loss_prob_per_division),
        immunogenicity=immunogenicity_table(t.immunogenicity.distribution, t.immunogenicity.mean),
        field_shape=field_shape,
        coarsen=k,
        field_dim=dim,
        **field_records(cfg, block_sites),
        chem_level_scale=level_scale,
        immune_on=im.enabled,
        recruit_rate_per_day=im.recruitment_rate_per_day if im.enabled else 0.0,
        recruit_half_saturation=im.recruitment_half_saturation,
        dt_days=dt_days,
        p_kill_attempt=threshold(rate_probability(im.kill_attempt_rate_per_day, dt_days)),
        pdl1_suppression=im.pdl1_suppression,
        exhaustion_prob=im.exhaustion_prob_per_pdl1_contact,
        exhaustion_threshold=im.exhaustion_threshold,
        reinvigoration_rate_per_day=im.reinvigoration_rate_per_day,
        kills_per_tcell=im.kills_per_tcell,
        p_expand=threshold(im.expansion_prob_per_kill),
        p_tcell_death=threshold(rate_probability(1.0 / im.lifespan_days, dt_days)),
        p_tcell_death_exhausted=threshold(rate_probability(im.exhausted_death_rate_per_day, dt_days)),
        n_moves=n_moves,
        full_moves=full_moves,
        p_partial_move=p_partial_move,
        chemotaxis=np.float32(im.chemotaxis),
        tcell_arrest_steps=cfg.tcell_arrest_steps(),
    )
    return replace(core, parts=component_params(cfg, core))


def component_params(cfg: Config, core: ModelParams) -> dict:
    """The host values of every component with a ``params`` hook
    (gpusim.components.Component.params), switched on or not: a component
    that is off still fills its ``Params`` fields (its ``*_on`` flag 0), so
    the block is the same whichever components a batch holds."""
    from .components import COMPONENTS, resolve

    out: dict = {}
    for c in COMPONENTS:
        if c.params:
            values = resolve(c.params)(cfg, core)
            if clash := set(values) & (set(out) | set(vars(core))):
                raise ValueError(f"component {c.name}: params hook sets {sorted(clash)}, already set")
            out.update(values)
    return out


class LevelRuns:
    """The ModelParams values the therapy-driven thresholds use, one float64
    array over a group of runs."""

    def __init__(self, mps: list[ModelParams]):
        self.pdl1_suppression = np.array([m.pdl1_suppression for m in mps], dtype=np.float64)
        self.exhaustion_prob = np.array([m.exhaustion_prob for m in mps], dtype=np.float64)
        self.reinvigoration_rate_per_day = np.array([m.reinvigoration_rate_per_day for m in mps], dtype=np.float64)
        self.recruit_rate_per_day = np.array([m.recruit_rate_per_day for m in mps], dtype=np.float64)
        self.recruit_half_saturation = np.array([m.recruit_half_saturation for m in mps], dtype=np.float64)
        self.chem_level_scale = np.array([float(m.chem_level_scale) for m in mps], dtype=np.float64)
        self.dt_days = np.array([m.dt_days for m in mps], dtype=np.float64)
        self.treg_depletion_rate_per_day = np.array([m.treg_depletion_rate_per_day for m in mps], dtype=np.float64)
        self.myeloid_depletion_rate_per_day = np.array([m.myeloid_depletion_rate_per_day for m in mps],
                                                       dtype=np.float64)

    def take(self, idx: np.ndarray) -> LevelRuns:
        out = object.__new__(LevelRuns)
        out.__dict__.update({k: v[idx] for k, v in self.__dict__.items()})
        return out


#: The StepParams fields that follow each therapy level, and how: (level,
#: fields, function of (runs, level values) -> {field: values}).  A level
#: that does not change leaves its fields alone: the recruitment tables
#: (RECRUIT_LEVELS entries per run) follow windows, which move rarely, and
#: an antibody's occupancy, which moves every step, only scalars.
LEVEL_FIELDS = (
    ("blockade", lambda r, b: {"p_pdl1_pass": thresholds(1.0 - r.pdl1_suppression * (1.0 - b)),
                               "p_exhaust": thresholds(r.exhaustion_prob * (1.0 - b)),
                               "p_reinvigorate": thresholds(-np.expm1(-(b * r.reinvigoration_rate_per_day)
                                                                      * r.dt_days))}),
    ("recruitment_multiplier", lambda r, m: {"recruit": recruit_tables(r, m)}),
    ("recruitment_primed", lambda r, m: {"recruit_primed": recruit_tables(r, m)}),
    ("priming_fraction", lambda r, q: {"recruit_priming": fractions(q)}),
    ("chemo_tumour_kill_prob", lambda r, p: {"p_chemo_tumour": thresholds(p)}),
    ("chemo_tcell_kill_prob", lambda r, p: {"p_chemo_tcell": thresholds(p)}),
    ("treg_depletion", lambda r, d: {"p_treg_deplete": thresholds(-np.expm1(-(d * r.treg_depletion_rate_per_day)
                                                                            * r.dt_days))}),
    ("myeloid_depletion", lambda r, d: {"p_myeloid_deplete": thresholds(
        -np.expm1(-(d * r.myeloid_depletion_rate_per_day) * r.dt_days))}),
)


@dataclass(frozen=True)
class StepParams:
    """Parameters that change with the therapy schedule, for one step."""

    p_pdl1_pass: int  # a PD-L1-high target is still killed: 1 - s (1 - blockade)
    p_exhaust: int  # exhaustion per PD-L1 contact: p (1 - blockade)
    p_reinvigorate: int  # a T cell sheds an exhaustion level: 1 - exp(-rate blockade dt)
    recruit: np.ndarray  # uint32[RECRUIT_LEVELS], without anti-CTLA-4 priming
    recruit_primed: np.ndarray  # uint32[RECRUIT_LEVELS], at the schedule's full priming
    recruit_priming: int  # how far between them, 2**32 = primed (reference/tcell.py recruit_threshold)
    p_chemo_tumour: int
    p_chemo_tcell: int
    transfers: tuple  # ((cells, where), ...) injected this step
    p_treg_deplete: int  # Treg depletion (anti-CTLA-4 level x tregs.depletion_rate_per_day)
    p_myeloid_deplete: int  # myeloid depletion (CSF1R inhibition level x myeloid.depletion_rate_per_day)


def step_params(mp: ModelParams, therapy) -> StepParams:
    """Thresholds for one step under ``therapy`` (a gpusim.therapy.StepTherapy):
    the rules of :class:`gpusim.engine.param_table.TherapyGroup` for a group
    of one run."""
    runs = LevelRuns([mp])
    values = {}
    for level, fields in LEVEL_FIELDS:
        values.update(fields(runs, np.array([float(getattr(therapy, level))])))
    return StepParams(**{k: (v[0] if v.ndim > 1 else int(v[0])) for k, v in values.items()},
                      transfers=therapy.transfers)
