"""The calibration spec: what to fit, to which data, how.

A TOML file (``gpusim calibrate SPEC.toml -o DIR``)::

    seed = 20261206              # every simulation's seed and pyABC's proposals derive from it
    replicates = 4               # simulated patients per particle and arm

    [base]                       # as in a sweep spec: a base config, overrides, a section
    config = "quickstart.toml"   # relative to this file
    [base.set]
    lattice.shape = [40, 40]

    [[arms]]                     # optional, as in a sweep spec (default: one arm, "base")
    name = "control"
    therapy = "none"

    [[params]]                   # the fitted parameters and their priors
    key = "tumour.division_rate_per_day"
    prior = "uniform"            # uniform | log_uniform | normal
    min = 0.2
    max = 2.0
    truth = 0.8                  # optional: the value the data were simulated at (reported, plotted)

    [data]
    file = "data.csv"            # tidy table: arm, time, quantity, value[, sd][, n] (gpusim.calibrate.data)

    [distance]
    p = 2                        # p-norm of the scaled residuals (value - simulated) / scale

    [abc]                        # pyABC ABC-SMC
    population = 100             # accepted particles per generation
    generations = 6              # stop after this many ...
    min_epsilon = 0.0            # ... or when epsilon falls to this ...
    min_acceptance_rate = 0.0    # ... or the acceptance rate below this
    [quick]                      # --quick replaces [abc] values with these
    population = 40
    generations = 3

>>> spec = parse_spec({"seed": 1, "base": {"config": "b.toml"}, "data": {"file": "d.csv"},
...                    "params": [{"key": "tumour.death_rate_per_day", "prior": "uniform", "min": 0, "max": 1}]})
>>> spec.params[0].interval(0.9)
(0.05, 0.95)
>>> parse_spec({"seed": 1, "base": {"config": "b.toml"}, "data": {"file": "d.csv"},
...             "params": [{"key": "tumour.death_rate_per_day", "prior": "log_uniform", "min": 0, "max": 1}]})
Traceback (most recent call last):
...
gpusim.errors.InputError: calibrate: params.0: tumour.death_rate_per_day: a log_uniform prior needs 0 < min < max
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import read_toml, validated
from ..sweepdir.spec import Arm, BaseSpec

#: Probability mass of the credible (and prior) intervals gpusim calibrate reports.
MASS = 0.9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)  # as gpusim.section


class Param(_Strict):
    """One fitted parameter: a dotted config key and its prior."""

    key: str = Field(min_length=1, description="dotted config key, e.g. tumour.division_rate_per_day")
    prior: Literal["uniform", "log_uniform", "normal"]
    min: float | None = Field(None, description="lower bound (uniform, log_uniform; optional for normal)")
    max: float | None = Field(None, description="upper bound (uniform, log_uniform; optional for normal)")
    mean: float | None = None
    sd: float | None = Field(None, gt=0.0)
    truth: float | None = Field(None, description="the true value, when the data were simulated (reported)")

    @model_validator(mode="after")
    def _prior_ok(self):
        lo, hi = self.min, self.max
        if self.prior in ("uniform", "log_uniform"):
            if lo is None or hi is None or not lo < hi:
                raise ValueError(f"{self.key}: a {self.prior} prior needs min < max")
            if self.prior == "log_uniform" and lo <= 0:
                raise ValueError(f"{self.key}: a log_uniform prior needs 0 < min < max")
        else:
            if self.mean is None or self.sd is None:
                raise ValueError(f"{self.key}: a normal prior needs mean and sd")
            if lo is not None and hi is not None and not lo < hi:
                raise ValueError(f"{self.key}: min must be below max")
        return self

    @property
    def name(self) -> str:
        """The parameter's name in pyABC's tables (dots are not SQL-friendly)."""
        return self.key.replace(".", "__")

    def rv(self):
        """The prior as a pyABC random variable."""
        import pyabc

        if self.prior == "uniform":
            return pyabc.RV("uniform", self.min, self.max - self.min)
        if self.prior == "log_uniform":
            return pyabc.RV("loguniform", self.min, self.max)
        lo = -math.inf if self.min is None else (self.min - self.mean) / self.sd
        hi = math.inf if self.max is None else (self.max - self.mean) / self.sd
        return pyabc.RV("truncnorm", lo, hi, loc=self.mean, scale=self.sd)

    def interval(self, mass: float) -> tuple[float, float]:
        """The prior's central interval of probability ``mass``."""
        rv = self.rv()
        tail = (1.0 - mass) / 2
        return round(float(rv.distribution.ppf(tail)), 12), round(float(rv.distribution.ppf(1.0 - tail)), 12)

    @property
    def log_scale(self) -> bool:
        """Widths of a log-uniform prior's intervals are compared in log space."""
        return self.prior == "log_uniform"


class DataSpec(_Strict):
    file: str = Field(min_length=1, description="tidy data table (.csv or .parquet), relative to the spec")


class DistanceSpec(_Strict):
    p: float = Field(2.0, ge=1.0, description="p-norm of the scaled residuals")


class AbcSpec(_Strict):
    population: int = Field(100, ge=2, description="accepted particles per generation")
    generations: int = Field(6, ge=1, description="most generations")
    min_epsilon: float = Field(0.0, ge=0.0, description="stop when epsilon is at or below this")
    min_acceptance_rate: float = Field(0.0, ge=0.0, le=1.0, description="stop below this acceptance rate")
    max_simulations: int | None = Field(None, ge=1, description="stop after this many particles simulated")


class QuickSpec(_Strict):
    population: int | None = Field(None, ge=2)
    generations: int | None = Field(None, ge=1)
    min_epsilon: float | None = Field(None, ge=0.0)
    replicates: int | None = Field(None, ge=1)


class CalibrationSpec(_Strict):
    seed: int = Field(ge=0, lt=2**63, description="seeds every simulation and pyABC's proposals")
    replicates: int = Field(1, ge=1, description="simulated patients per particle and arm")
    base: BaseSpec
    arms: list[Arm] = Field(default_factory=list, description="default: one arm, 'base', the base's therapy")
    params: list[Param] = Field(min_length=1)
    data: DataSpec
    distance: DistanceSpec = DistanceSpec()
    abc: AbcSpec = AbcSpec()
    quick: QuickSpec = QuickSpec()

    @model_validator(mode="after")
    def _unique(self):
        keys = [p.key for p in self.params]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"{key} is fitted twice")
            if key.split(".")[0] in ("therapy", "output", "initial") or key == "simulation.seed":
                raise ValueError(f"{key}: cannot be fitted (a run's seed, therapy and outputs are set by "
                                 "gpusim calibrate)")
        names = [a.name for a in self.arms]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"arm {name!r} is defined twice")
        return self

    @property
    def axes(self) -> list[Param]:
        """The fitted parameters (what a sweep calls its axes: each names a config key)."""
        return list(self.params)

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms] or ["base"]

    def settings(self, quick: bool) -> tuple[AbcSpec, int]:
        """The ABC settings and replicates in effect (``--quick`` applies [quick])."""
        if not quick:
            return self.abc, self.replicates
        q = {k: v for k, v in self.quick.model_dump().items() if v is not None and k != "replicates"}
        return self.abc.model_copy(update=q), self.quick.replicates or self.replicates


def parse_spec(data: dict, where: str = "calibrate") -> CalibrationSpec:
    return validated(CalibrationSpec, data, where)


def load_spec(path: str | Path) -> tuple[CalibrationSpec, str]:
    """Read and validate a calibration spec: (spec, its text)."""
    path = Path(path)
    return parse_spec(read_toml(path), str(path)), path.read_text()
