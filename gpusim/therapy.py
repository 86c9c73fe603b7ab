"""Therapies as types: each kind of ``[[therapy]]`` entry is a class that
knows its schedule and its effect on a step (DESIGN §4 step 1, §10).

Windows (:class:`CheckpointBlockade`, :class:`Vaccine`) act in a step whose
start time t satisfies start_day <= t < end_day.  Dosed therapies
(:class:`AdoptiveTransfer`, :class:`Chemotherapy`, the antibodies
:class:`AntiPD1` and :class:`AntiCTLA4`) are given on dose days -- one
``day``, explicit ``days``, or ``start_day`` with ``interval_days`` and
``doses`` -- and a dose acts in the step whose interval [t, t + dt) holds its
day.  An antibody's level then follows its concentration (gpusim.pk) at the
step's start t, dose by dose, through its target occupancy.

Effects combine over entries: blockade takes the highest level,
recruitment multipliers multiply, chemotherapy kills combine as
independent events, transfers add up.

Each therapy applies itself to an :class:`Effect` -- the levels of one step
for a group of runs that share a schedule, one value per run (each run its
own patient: body weight, clearance) -- so no code outside a therapy's class
asks what kind it is.

>>> from gpusim.config import Config
>>> cfg = Config.model_validate({"therapy": [
...     {"kind": "checkpoint_blockade", "start_day": 1, "end_day": 2, "level": 0.8}]})
>>> at_step(cfg, 0).blockade, at_step(cfg, 144).blockade
(0.0, 0.8)
>>> cfg = Config.model_validate({"simulation": {"dt_minutes": 1440}, "therapy": [
...     {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3, "start_day": 0}]})
>>> round(at_step(cfg, 56).blockade, 3)      # PD-1 occupancy 8 weeks after one dose
0.918
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, PrivateAttr, model_serializer, model_validator

from .pk import DRUGS, Drug, concentration, occupancy
from .section import Section


class Levels:
    """The levels derived from a step's therapy, for one run (floats) or a
    group (arrays): what :data:`gpusim.params.LEVEL_FIELDS` turns into
    thresholds."""

    @property
    def recruitment_primed(self):
        """The recruitment multiplier at full anti-CTLA-4 priming."""
        return self.recruitment_multiplier * self.priming_full

    @property
    def priming_fraction(self):
        """How far the priming is from none (0) to full (1): (priming - 1) /
        (priming_full - 1), the interpolation weight of the recruitment
        thresholds (kernels/tcell.cu recruit_threshold)."""
        if self.priming_full <= 1.0:
            return np.zeros_like(self.priming)
        return np.clip((self.priming - 1.0) / (self.priming_full - 1.0), 0.0, 1.0)


@dataclass(frozen=True)
class StepTherapy(Levels):
    """One run's therapy levels in one step."""

    blockade: float = 0.0
    #: Multiplier of the recruitment table (vaccine windows).
    recruitment_multiplier: float = 1.0
    chemo_tumour_kill_prob: float = 0.0
    chemo_tcell_kill_prob: float = 0.0
    transfers: tuple = ()  # ((cells, where), ...)
    #: Regulatory T-cell depletion level (0-1, anti-CTLA-4 occupancy): Tregs
    #: die at tregs.depletion_rate_per_day x this (gpusim.params.step_params).
    treg_depletion: float = 0.0
    #: Anti-CTLA-4 priming of CD8 recruitment this step (product over the
    #: entries of 1 + (multiplier - 1) x level), and at full level of every
    #: entry of the schedule (a constant of the schedule).
    priming: float = 1.0
    priming_full: float = 1.0


class Patients:
    """The patient covariates of a group of runs (``[patient]`` of each
    config), one float64 array each."""

    def __init__(self, patients: list):
        self.body_weight_kg = np.array([p.body_weight_kg for p in patients], dtype=np.float64)
        self.clearance_factor = np.array([p.clearance_factor for p in patients], dtype=np.float64)
        self.volume_factor = np.array([p.volume_factor for p in patients], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.body_weight_kg)


@dataclass
class Effect(Levels):
    """The levels of one step for ``n`` runs (one entry per run); the
    therapies of a schedule apply themselves to it in turn."""

    n: int
    priming_full: float = 1.0
    blockade: np.ndarray = field(init=False)
    recruitment_multiplier: np.ndarray = field(init=False)
    chemo_tumour_kill_prob: np.ndarray = field(init=False)
    chemo_tcell_kill_prob: np.ndarray = field(init=False)
    treg_depletion: np.ndarray = field(init=False)
    priming: np.ndarray = field(init=False)
    transfers: list = field(default_factory=list)

    def __post_init__(self):
        self.blockade = np.zeros(self.n)
        self.recruitment_multiplier = np.ones(self.n)
        self.chemo_tumour_kill_prob = np.zeros(self.n)
        self.chemo_tcell_kill_prob = np.zeros(self.n)
        self.treg_depletion = np.zeros(self.n)
        self.priming = np.ones(self.n)

    def row(self, i: int) -> StepTherapy:
        return StepTherapy(float(self.blockade[i]), float(self.recruitment_multiplier[i]),
                           float(self.chemo_tumour_kill_prob[i]), float(self.chemo_tcell_kill_prob[i]),
                           tuple(self.transfers), float(self.treg_depletion[i]), float(self.priming[i]),
                           self.priming_full)


def effect(therapies: list, dt_days: float, step: int, patients: Patients) -> Effect:
    """The levels of ``step`` under ``therapies`` for each of ``patients``."""
    t0, t1 = step * dt_days, (step + 1) * dt_days
    eff = Effect(len(patients), math.prod(entry.full_priming() for entry in therapies))
    for entry in therapies:
        entry.apply(eff, t0, t1, patients)
    return eff


# --------------------------------------------------------------------------
# The kinds


class Therapy(Section):
    """What every therapy entry can say about itself."""

    kind: str
    #: Plot colour of the kind (gpusim.plots.curves).
    colour: ClassVar[str] = "tab:gray"

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler):
        # Optional schedule fields left unset are not written: the stored
        # config (run files, sweep fingerprints) of an entry in an older form
        # stays what it was.
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ")

    def first_day(self) -> float:
        """When the therapy starts (days)."""
        raise NotImplementedError

    def first_step(self, dt_days: float) -> int | None:
        """The first step in which the therapy acts (None: never)."""
        raise NotImplementedError

    def apply(self, eff: Effect, t0: float, t1: float, patients: Patients) -> None:
        """Add this therapy's effect in the step [t0, t1) to ``eff``."""
        raise NotImplementedError

    def full_priming(self) -> float:
        """The CD8 recruitment priming at this entry's full level (1: none)."""
        return 1.0

    def shade(self, ax, colour: str, label: str | None) -> None:
        """Draw the schedule behind a time axis (days)."""
        raise NotImplementedError

    def problems(self) -> list[str]:
        """Rules across fields this entry breaks (one line each)."""
        return []

    def course(self) -> tuple[str, float, float] | None:
        """(what, first day, last day) of a course that must not overlap
        another course of the same ``what`` (None: any overlap is fine)."""
        return None


def _window_first_step(start: float, end: float, dt: float) -> int | None:
    k = max(0, math.ceil(start / dt) - 1)
    while k * dt < start:  # settle rounding exactly as a window compares start <= t0
        k += 1
    return k if k * dt < end else None


def _dose_step(day: float, dt: float) -> int:
    k = max(0, math.floor(day / dt) + 1)  # the step whose [t0, t1) holds day
    while k > 0 and k * dt > day:
        k -= 1
    return k


class Window(Therapy):
    """A therapy at a fixed level from ``start_day`` up to ``end_day``."""

    start_day: float = Field(ge=0.0)
    end_day: float = Field(ge=0.0)

    def first_day(self) -> float:
        return self.start_day

    def first_step(self, dt_days: float) -> int | None:
        return _window_first_step(self.start_day, self.end_day, dt_days)

    def active(self, t0: float) -> bool:
        return self.start_day <= t0 < self.end_day

    def shade(self, ax, colour, label) -> None:
        ax.axvspan(self.start_day, self.end_day, color=colour, alpha=0.15, lw=0, label=label)

    def problems(self) -> list[str]:
        if self.end_day < self.start_day:
            return [f"end_day {self.end_day} is before start_day {self.start_day}"]
        return []


class CheckpointBlockade(Window):
    kind: Literal["checkpoint_blockade"]
    level: float = Field(ge=0.0, le=1.0, description="fraction of PD-1/PD-L1 signalling blocked")
    colour: ClassVar[str] = "tab:purple"

    def apply(self, eff, t0, t1, patients) -> None:
        if self.active(t0):
            eff.blockade = np.maximum(eff.blockade, self.level)


class Vaccine(Window):
    kind: Literal["vaccine"]
    recruitment_multiplier: float = Field(ge=0.0)
    colour: ClassVar[str] = "tab:green"

    def apply(self, eff, t0, t1, patients) -> None:
        if self.active(t0):
            eff.recruitment_multiplier = eff.recruitment_multiplier * self.recruitment_multiplier


class Ctla4Blockade(Window):
    """Anti-CTLA-4 at a fixed ``level`` (occupancy, 0-1) over a window:
    depletes regulatory T cells (``tregs.depletion_rate_per_day`` x level)
    and primes CD8 T cells: a priming of 1 + level x (``priming_multiplier``
    - 1); :class:`AntiCTLA4` sets both from its occupancy instead.

    Priming moves each recruitment probability linearly, in proportion to
    (priming - 1) / (full priming - 1), from its value without priming to
    its value at the recruitment rate x the schedule's full priming (the
    product of its entries' multipliers): at level 0 and 1 that is the
    saturating rate law exactly, in between its chord (which differs by
    second order in the per-step probability).  The two tables are built
    when a window opens or closes, and a level that moves every step (an
    antibody's occupancy) writes one number per run (DESIGN §10)."""

    kind: Literal["ctla4_blockade"]
    level: float = Field(ge=0.0, le=1.0, description="fraction of CTLA-4 blocked (occupancy)")
    priming_multiplier: float = Field(
        2.0, ge=1.0, description="CD8 recruitment multiplier at full level (a model assumption to calibrate)")
    colour: ClassVar[str] = "tab:brown"

    def apply(self, eff, t0, t1, patients) -> None:
        if self.active(t0):
            eff.treg_depletion = np.maximum(eff.treg_depletion, self.level)
            eff.priming = eff.priming * (1.0 + self.level * (self.priming_multiplier - 1.0))

    def full_priming(self) -> float:
        return self.priming_multiplier


class Dosed(Therapy):
    """A therapy given on dose days: ``day`` (one dose), ``days`` (explicit,
    increasing), or ``start_day`` with ``interval_days`` and ``doses``."""

    day: float | None = Field(None, ge=0.0, description="one dose, in the step containing this time")
    days: list[float] | None = Field(None, min_length=1, description="explicit dose days, increasing")
    start_day: float | None = Field(None, ge=0.0, description="first dose of a regular schedule")
    interval_days: float | None = Field(None, gt=0.0, description="days between doses (cycle length)")
    doses: int | None = Field(None, ge=1, description="number of doses (cycles); default 1")

    @model_validator(mode="after")
    def _one_schedule(self):
        forms = [name for name in ("day", "days", "start_day") if getattr(self, name) is not None]
        if len(forms) != 1:
            raise ValueError("give the dose days one way: day, days, or start_day (with interval_days and doses)"
                             + (f" (got {' and '.join(forms)})" if forms else ""))
        if self.start_day is None and (self.interval_days is not None or self.doses is not None):
            raise ValueError("interval_days and doses go with start_day")
        if (self.doses or 1) > 1 and self.interval_days is None:
            raise ValueError(f"{self.doses} doses need interval_days")
        if self.days is not None:
            if any(d < 0 or not math.isfinite(d) for d in self.days):
                raise ValueError("days: every dose day must be a finite number >= 0")
            if any(b <= a for a, b in zip(self.days, self.days[1:])):
                raise ValueError(f"days: dose days must increase, one dose a day at most (got {self.days})")
        return self

    def dose_days(self) -> list[float]:
        if self.day is not None:
            return [self.day]
        if self.days is not None:
            return list(self.days)
        return [self.start_day + i * (self.interval_days or 0.0) for i in range(self.doses or 1)]

    def first_day(self) -> float:
        return self.dose_days()[0]

    def first_step(self, dt_days: float) -> int | None:
        return _dose_step(self.first_day(), dt_days)

    def given(self, t0: float, t1: float) -> int:
        """Doses whose day lies in [t0, t1)."""
        return sum(t0 <= d < t1 for d in self.dose_days())

    def shade(self, ax, colour, label) -> None:
        for i, d in enumerate(self.dose_days()):
            ax.axvline(d, color=colour, ls="--", lw=1.2, label=label if i == 0 else None)


class AdoptiveTransfer(Dosed):
    kind: Literal["adoptive_transfer"]
    cells: int = Field(ge=1)
    where: Literal["tumour", "anywhere"] = "tumour"
    colour: ClassVar[str] = "tab:blue"

    def apply(self, eff, t0, t1, patients) -> None:
        eff.transfers.extend([(self.cells, self.where)] * self.given(t0, t1))


class Chemotherapy(Dosed):
    """Pulses of cytotoxic chemotherapy: each dose (cycle) kills each tumour
    cell with ``tumour_kill_prob`` and each T cell with ``tcell_kill_prob``."""

    kind: Literal["chemotherapy"]
    tumour_kill_prob: float = Field(ge=0.0, le=1.0)
    tcell_kill_prob: float = Field(0.0, ge=0.0, le=1.0)
    colour: ClassVar[str] = "tab:red"

    def apply(self, eff, t0, t1, patients) -> None:
        for _ in range(self.given(t0, t1)):  # two pulses in one step combine as independent kills
            eff.chemo_tumour_kill_prob = 1 - (1 - eff.chemo_tumour_kill_prob) * (1 - self.tumour_kill_prob)
            eff.chemo_tcell_kill_prob = 1 - (1 - eff.chemo_tcell_kill_prob) * (1 - self.tcell_kill_prob)


_PK_FIELDS = ("clearance_l_per_day", "v1_l", "q_l_per_day", "v2_l", "ec50_ug_per_ml")


class Antibody(Dosed):
    """An IV antibody on a dose schedule: its concentration from a
    two-compartment PK model of the run's patient (gpusim.pk), its target
    occupancy from an Emax/Hill curve.  ``drug`` names a model of
    :data:`gpusim.pk.DRUGS`; any PK field given here replaces the model's
    value (a drug outside the table must give all of them)."""

    drug: str = Field(min_length=1)
    dose_mg_per_kg: float | None = Field(None, gt=0.0, description="dose per kg of body weight ([patient])")
    dose_mg: float | None = Field(None, gt=0.0, description="flat dose")
    clearance_l_per_day: float | None = Field(None, gt=0.0)
    v1_l: float | None = Field(None, gt=0.0)
    q_l_per_day: float | None = Field(None, ge=0.0)
    v2_l: float | None = Field(None, gt=0.0)
    ec50_ug_per_ml: float | None = Field(None, gt=0.0)
    hill: float | None = Field(None, gt=0.0)
    #: Targets an antibody of this kind may bind.
    targets: ClassVar[tuple[str, ...]] = ()
    _cache: tuple | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _drug_known(self):
        if (self.dose_mg_per_kg is None) == (self.dose_mg is None):
            raise ValueError("give one dose: dose_mg_per_kg or dose_mg")
        known = DRUGS.get(self.drug)
        if known is None:
            missing = [f for f in _PK_FIELDS if getattr(self, f) is None]
            if missing:
                raise ValueError(f"drug {self.drug!r} has no PK parameters (known: {', '.join(DRUGS)}); "
                                 f"give {', '.join(missing)}")
        elif known.target not in self.targets:
            raise ValueError(f"{self.drug} binds {known.target}, not {' or '.join(self.targets)}")
        return self

    def model(self) -> Drug:
        """The drug's PK/binding model with this entry's overrides."""
        given = {f: getattr(self, f) for f in (*_PK_FIELDS, "hill") if getattr(self, f) is not None}
        base = DRUGS.get(self.drug) or Drug(self.drug, self.targets[0], reference_weight_kg=80.0,
                                            weight_exponents=(0.0, 0.0, 0.0, 0.0), **given)
        return base.with_(**given)

    def _patient_pk(self, patients: Patients):
        """(drug, each patient's PK, each patient's dose in mg), kept for the
        patients of the last call: a group asks every step for the same ones."""
        fields = list(self.__dict__.values())  # a copy with other values must not reuse this one's
        if self._cache is None or self._cache[0] is not patients or self._cache[1] != fields:
            drug = self.model()
            pk = drug.pk(patients.body_weight_kg, patients.clearance_factor, patients.volume_factor)
            dose = self.dose_mg if self.dose_mg is not None else self.dose_mg_per_kg * patients.body_weight_kg
            self._cache = (patients, fields, drug, pk, dose, self.dose_days())
        return self._cache[2:]

    def concentration(self, t: float, patients: Patients) -> np.ndarray:
        """ug/mL at day ``t`` in each patient."""
        _, pk, dose, days = self._patient_pk(patients)
        return concentration(pk, [dose] * len(days), days, t)

    def occupancy(self, t: float, patients: Patients) -> np.ndarray:
        drug = self._patient_pk(patients)[0]
        return occupancy(self.concentration(t, patients), drug.ec50_ug_per_ml, drug.hill)

    def course(self):
        days = self.dose_days()
        return self.drug, days[0], days[-1]


class AntiPD1(Antibody):
    """Anti-PD-1 or anti-PD-L1: the blockade level is ``max_blockade`` x
    occupancy (what a ``checkpoint_blockade`` window holds fixed)."""

    kind: Literal["anti_pd1"]
    max_blockade: float = Field(1.0, ge=0.0, le=1.0, description="blockade at full occupancy")
    targets: ClassVar[tuple[str, ...]] = ("PD-1", "PD-L1")
    colour: ClassVar[str] = "indigo"

    def apply(self, eff, t0, t1, patients) -> None:
        if t0 >= self.first_day():
            eff.blockade = np.maximum(eff.blockade, self.max_blockade * self.occupancy(t0, patients))


class AntiCTLA4(Antibody):
    """Anti-CTLA-4: priming and Treg depletion.  T-cell recruitment is
    primed by 1 + (``max_recruitment_multiplier`` - 1) x occupancy (as
    :class:`Ctla4Blockade` primes it at its level), and regulatory T cells
    (``[tregs]``, when switched on) die at ``tregs.depletion_rate_per_day``
    x occupancy."""

    kind: Literal["anti_ctla4"]
    max_recruitment_multiplier: float = Field(
        2.0, ge=1.0, description="recruitment multiplier at full occupancy (a model assumption to calibrate)")
    targets: ClassVar[tuple[str, ...]] = ("CTLA-4",)
    colour: ClassVar[str] = "tab:orange"

    def apply(self, eff, t0, t1, patients) -> None:
        if t0 >= self.first_day():
            occupancy = self.occupancy(t0, patients)
            eff.treg_depletion = np.maximum(eff.treg_depletion, occupancy)
            eff.priming = eff.priming * (1.0 + (self.max_recruitment_multiplier - 1.0) * occupancy)

    def full_priming(self) -> float:
        return self.max_recruitment_multiplier


TherapyEntry = Annotated[
    Union[CheckpointBlockade, AdoptiveTransfer, Vaccine, Chemotherapy, Ctla4Blockade, AntiPD1, AntiCTLA4],
    Field(discriminator="kind"),
]


def regimen_problems(therapy: list) -> list[str]:
    """One line per rule a regimen breaks: an entry's own rules, and two
    courses of one drug that overlap in time (sequence them instead)."""
    lines = [f"therapy[{n}] ({e.kind}): {p}" for n, e in enumerate(therapy) for p in e.problems()]
    courses = [(n, e.course()) for n, e in enumerate(therapy) if e.course() is not None]
    for i, (n, (what, a0, a1)) in enumerate(courses):
        for m, (other, b0, b1) in courses[i + 1:]:
            if what == other and a0 <= b1 and b0 <= a1:
                lines.append(f"therapy[{n}] and therapy[{m}]: two courses of {what} overlap "
                             f"(days {a0:g}-{a1:g} and {b0:g}-{b1:g}); give one schedule, or sequence them")
    return lines


# --------------------------------------------------------------------------
# One run's schedule


def step_interval(cfg, step: int) -> tuple[float, float]:
    """[t0, t1) of ``step`` in days."""
    dt = cfg.simulation.dt_days
    return step * dt, (step + 1) * dt


def at_step(cfg, step: int) -> StepTherapy:
    """The therapy levels of one run's ``step`` (the single-run view of
    :func:`effect`)."""
    return effect(cfg.therapy, cfg.simulation.dt_days, step, Patients([cfg.patient])).row(0)


def first_step(cfg, entry) -> int | None:
    """The first step in which ``entry`` acts, by the rules of :func:`at_step`
    (None for an empty window).

    >>> from gpusim.config import Config
    >>> cfg = Config.model_validate({"simulation": {"dt_minutes": 60, "steps": 24}, "therapy": [
    ...     {"kind": "chemotherapy", "day": 1.5, "tumour_kill_prob": 0.5}]})
    >>> first_step(cfg, cfg.therapy[0])
    36
    >>> print(*unreached(cfg))
    therapy[0] (chemotherapy) acts at day 1.5 (step 36), after the run's end (day 1, 24 steps): it never applies
    """
    return entry.first_step(cfg.simulation.dt_days)


def unreached(cfg) -> list[str]:
    """One line per therapy entry that never acts within ``simulation.steps``
    (the run is still valid: ``gpusim resume --steps`` may reach it)."""
    steps, end = cfg.simulation.steps, cfg.simulation.steps * cfg.simulation.dt_days
    lines = []
    for n, entry in enumerate(cfg.therapy):
        k = first_step(cfg, entry)
        day = entry.first_day()
        if k is None:
            lines.append(f"therapy[{n}] ({entry.kind}): its window [{day:g}, {entry.end_day:g}) holds no "
                         "step start: it never applies")
        elif k >= steps:
            lines.append(f"therapy[{n}] ({entry.kind}) acts at day {day:g} (step {k}), after the run's end "
                         f"(day {end:.4g}, {steps} steps): it never applies")
    return lines


def therapy_start_day(cfg) -> float | None:
    """When the first therapy begins (None without a schedule)."""
    starts = [e.first_day() for e in cfg.therapy]
    return min(starts) if starts else None
