"""The sweep spec: a TOML file that says which runs a sweep is made of.

A sweep is a base config, parameter axes (a full grid, a Latin hypercube
sample, or both, crossed), therapy arms and replicates::

    seed = 20261127                 # sweep seed: every run's seed derives from it
    replicates = 2                  # runs per (parameter point, arm)

    [base]
    config = "quickstart.toml"      # relative to this file
    # initial = "section.csv"       # optional: every run starts from this tissue section
    [base.set]                      # optional overrides of the base config
    lattice.shape = [64, 64]
    simulation.steps = 300

    [[grid]]                        # explicit values ...
    key = "tumour.mutations_per_division"
    values = [0.1, 0.3, 1.0]

    [[grid]]                        # ... or a range: num points, linear or log
    key = "immune.recruitment_rate_per_day"
    min = 0.1
    max = 10.0
    num = 3
    scale = "log"

    [random]                        # Latin hypercube (scipy.stats.qmc), sweep seed
    design = "latin_hypercube"      # or "sobol": Saltelli's scheme (SALib), N (D + 2) points
    samples = 8
    [[random.params]]
    key = "immune.pdl1_suppression"
    min = 0.5
    max = 1.0

    [population]                    # virtual patients: drawn per (parameter point, replicate),
    "patient.body_weight_kg" = {median = 80.0, cv = 0.2}      # log-normal by default; the same
    "tumour.division_rate_per_day" = {distribution = "uniform", min = 0.3, max = 0.6}  # patient in every arm

    [[arms]]                        # each arm replaces the base's [[therapy]] list
    name = "control"
    therapy = "none"
    [[arms]]
    name = "anti-PD-1"
    [[arms.therapy]]
    kind = "checkpoint_blockade"
    start_day = 5.0
    end_day = 30.0
    level = 0.9

Unknown keys are errors, and every problem is one line naming the key:

>>> from gpusim.sweepdir.spec import parse_spec
>>> spec = parse_spec({"base": {"config": "b.toml"}, "seed": 1,
...                    "grid": [{"key": "tumour.death_rate_per_day", "min": 0.1, "max": 0.3, "num": 3}]})
>>> spec.grid[0].points()
[0.1, 0.2, 0.3]
>>> parse_spec({"base": {"config": "b.toml"}, "seed": 1, "replicate": 2})
Traceback (most recent call last):
...
gpusim.errors.InputError: sweep: replicate: unknown key
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from ..config import TherapyEntry, read_toml, toml_value, validated


#: The most runs one sweep may hold: every run is listed, validated and
#: fingerprinted up front (about 0.2 ms and 10 kB each), and a cohort
#: beyond this is better split into sweeps a scheduler can share out.
MAX_RUNS = 100_000


class _Strict(BaseModel):
    # strict and finite, as the run config (gpusim.section): `seed = true`, `num = true`,
    # `replicates = "2"` or `max = inf` is a typo, refused, not coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _rounded(value: float) -> float:
    # linspace/geomspace leave noise such as 0.30000000000000004; 12
    # significant digits keep the intended value and make tables readable.
    return float(f"{value:.12g}")


def scaled(u: float, lo: float, hi: float, scale: str, integer: bool) -> float | int:
    """Map u in [0, 1] onto [lo, hi] (linearly or logarithmically).

    >>> scaled(0.5, 1.0, 100.0, "log", False), scaled(0.5, 0, 10, "linear", True)
    (10.0, 5)
    """
    if scale == "log":
        value = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    else:
        value = lo + u * (hi - lo)
    return int(round(value)) if integer else _rounded(value)


class _Range(_Strict):
    key: str = Field(min_length=1, description="dotted config key, e.g. tumour.death_rate_per_day")
    min: float | None = None
    max: float | None = None
    scale: Literal["linear", "log"] = "linear"
    integer: bool = Field(False, description="round values to integers (for integer config fields)")

    @model_validator(mode="after")
    def _range_ok(self):
        if self.min is not None and self.max is not None:
            if self.max < self.min:
                raise ValueError(f"{self.key}: max {self.max} is below min {self.min}")
            if self.scale == "log" and self.min <= 0:
                raise ValueError(f"{self.key}: a log scale needs min > 0 (got {self.min})")
        return self


class GridAxis(_Range):
    """One axis of the full-factorial grid: ``values``, or ``min``/``max``/``num``."""

    values: list[Any] | None = Field(None, min_length=1)
    num: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_form(self):
        has_range = (self.min, self.max, self.num) != (None, None, None)
        if self.values is not None and has_range:
            raise ValueError(f"{self.key}: give either values or min/max/num, not both")
        if self.values is None and None in (self.min, self.max, self.num):
            raise ValueError(f"{self.key}: give values, or all of min, max and num")
        return self

    def points(self) -> list[Any]:
        if self.values is not None:
            return list(self.values)
        if self.num == 1:
            return [scaled(0.0, self.min, self.max, self.scale, self.integer)]
        return [scaled(i / (self.num - 1), self.min, self.max, self.scale, self.integer) for i in range(self.num)]


class RandomParam(_Range):
    """One dimension of the Latin hypercube: a range, linear or log."""

    @model_validator(mode="after")
    def _bounds_given(self):
        if self.min is None or self.max is None:
            raise ValueError(f"{self.key}: give min and max")
        return self


class RandomSample(_Strict):
    """Randomly placed parameter points: a Latin hypercube (default; partial
    rank correlation in ``gpusim sensitivity``) or Saltelli's extension of
    the Sobol' sequence (SALib; Sobol' indices), ``samples`` = N base points
    giving N (D + 2) runs per arm and replicate for D parameters."""

    design: Literal["latin_hypercube", "sobol"] = "latin_hypercube"
    samples: int = Field(ge=1, description="Latin hypercube points, or Sobol' base points N (a power of 2)")
    params: list[RandomParam] = Field(min_length=1)

    @model_validator(mode="after")
    def _sobol_power_of_two(self):
        if self.design == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples: a Sobol' design needs a power of 2 (got {self.samples})")
        return self


class Arm(_Strict):
    """A therapy arm: a name and the ``[[therapy]]`` list that replaces the base's
    (``"none"`` or an empty list: no therapy)."""

    name: str = Field(min_length=1, max_length=64)
    therapy: list[TherapyEntry] = Field(description='"none", or [[arms.therapy]] entries')

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if v != v.strip() or any(c in v for c in "/\\\n"):
            raise ValueError("no leading or trailing spaces, slashes or newlines in an arm name")
        return v

    @field_validator("therapy", mode="before")
    @classmethod
    def _none_is_empty(cls, v):
        if v == "none":
            return []
        if isinstance(v, str):
            raise ValueError('give "none" or [[arms.therapy]] entries')
        return v

    @property
    def entries(self) -> list:
        return list(self.therapy)


class Distribution(_Strict):
    """Between-patient variability of one config value: ``lognormal`` with
    ``median`` and ``cv`` (the coefficient of variation, sigma =
    sqrt(ln(1 + cv^2))), or ``uniform`` on [``min``, ``max``]."""

    distribution: Literal["lognormal", "uniform"] = "lognormal"
    median: float | None = Field(None, gt=0.0)
    cv: float | None = Field(None, ge=0.0)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _parameters_given(self):
        need = ("median", "cv") if self.distribution == "lognormal" else ("min", "max")
        other = ("min", "max") if self.distribution == "lognormal" else ("median", "cv")
        if any(getattr(self, k) is None for k in need) or any(getattr(self, k) is not None for k in other):
            raise ValueError(f"a {self.distribution} distribution takes {' and '.join(need)}")
        if self.distribution == "uniform" and self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}")
        return self

    def draw(self, rng) -> float:
        if self.distribution == "lognormal":
            value = self.median * math.exp(math.sqrt(math.log1p(self.cv**2)) * float(rng.standard_normal()))
        else:
            value = self.min + (self.max - self.min) * float(rng.random())
        return _rounded(value)


class BaseSpec(_Strict):
    config: str = Field(min_length=1, description="base scenario TOML, relative to the sweep file")
    set: dict[str, Any] = Field(default_factory=dict, description="overrides of the base config")
    initial: str | None = Field(None, min_length=1, description="tissue section every run starts from, relative to "
                                "the sweep file (gpusim run --initial; the base config's [initial] settings apply)")

    def overrides(self) -> list[str]:
        """``[base.set]`` as ``key.path=value`` strings, the form ``--set`` takes."""
        return [f"{key}={toml_value(value)}" for key, value in flatten(self.set)]


class SweepSpec(_Strict):
    seed: int = Field(ge=0, lt=2**64, description="sweep seed: run seeds and the random sample derive from it")
    replicates: int = Field(1, ge=1, description="runs per parameter point and arm, each with its own seed")
    base: BaseSpec
    grid: list[GridAxis] = Field(default_factory=list)
    random: RandomSample | None = None
    arms: list[Arm] = Field(default_factory=list, description="default: one arm, the base's therapy")
    population: dict[str, Distribution] = Field(
        default_factory=dict, description="virtual patients: config key -> distribution, drawn per patient")

    @model_serializer(mode="wrap")
    def _no_population_left_out(self, handler):
        # Sweeps made before [population] existed keep their fingerprint.
        data = handler(self)
        if isinstance(data, dict) and not self.population:
            data.pop("population", None)
        return data

    @model_validator(mode="after")
    def _keys_ok(self):
        keys = [axis.key for axis in self.grid]
        if self.random is not None:
            keys += [p.key for p in self.random.params]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"{key} is swept twice")
            if key.split(".")[0] == "therapy":
                raise ValueError(f"{key}: therapy is varied by [[arms]], not by a parameter axis")
            if key == "simulation.seed":
                raise ValueError("simulation.seed cannot be swept: run seeds derive from the sweep seed "
                                 "(use replicates)")
        for key in self.population:
            if key in keys:
                raise ValueError(f"population: {key} is also a swept parameter")
            if key.split(".")[0] in ("therapy", "simulation"):
                raise ValueError(f"population: {key}: a patient varies in model parameters, not in "
                                 "therapy or simulation settings")
        if self.random is not None and self.random.design == "sobol" and self.grid:
            raise ValueError("random.design = sobol: Sobol' indices need the Saltelli sample alone, without [[grid]] "
                             "axes (make them random params)")
        names = [arm.name for arm in self.arms]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"arm {name!r} is defined twice")
        if self.n_runs > MAX_RUNS:  # counted, not built: a typo in num must not eat minutes and gigabytes
            raise ValueError(f"{self.n_runs:,} runs ({self.n_points:,} parameter points x {len(self.arms) or 1} "
                             f"arms x {self.replicates} replicates) is above the ceiling of {MAX_RUNS:,} runs "
                             "per sweep (split it into several sweeps)")
        return self

    @property
    def n_points(self) -> int:
        """Parameter points, counted from the spec (grid sizes x the random design's rows)."""
        n = 1
        for axis in self.grid:
            n *= len(axis.values) if axis.values is not None else axis.num
        if self.random is not None:
            rows = self.random.samples
            if self.random.design == "sobol":  # Saltelli without second order: N (D + 2)
                rows *= len(self.random.params) + 2
            n *= rows
        return n

    @property
    def n_runs(self) -> int:
        return self.n_points * (len(self.arms) or 1) * self.replicates

    @property
    def axes(self) -> list[_Range]:
        """Every swept parameter: grid axes first, then random ones."""
        return list(self.grid) + (list(self.random.params) if self.random else [])


def flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested TOML tables -> (dotted key, value) pairs, in file order.

    >>> flatten({"lattice": {"shape": [8, 8]}, "tumour.death_rate_per_day": 0.2})
    [('lattice.shape', [8, 8]), ('tumour.death_rate_per_day', 0.2)]
    """
    out = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, path + ".")
        else:
            out.append((path, value))
    return out


def parse_spec(data: dict[str, Any], where: str = "sweep") -> SweepSpec:
    """Validate a parsed sweep TOML; :class:`InputError` names the first bad key."""
    return validated(SweepSpec, data, where)


def load_spec(path: str | Path) -> tuple[SweepSpec, str]:
    """Read and validate a sweep file: (spec, its text)."""
    path = Path(path)
    data = read_toml(path)
    return parse_spec(data, str(path)), path.read_text()
