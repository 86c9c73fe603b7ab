"""Host-side parameters: physical rates (float64) -> uint32 thresholds.

Kernels never see a rate or a float probability: an event happens when a
Philox word is below its threshold (DESIGN §3 rule 2), so the cpu, cuda and
NumPy backends agree bit for bit.  This module is the only place rates
become probabilities.

>>> threshold(0.5)
2147483648
>>> threshold(rate_probability(1.0, 1.0)) == threshold(1 - math.exp(-1))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import Config
from .lattice import full_shape, offsets

MINUTES_PER_DAY = 1440.0
IMMUNO_TABLE = 1024  # kernels/abi.cuh GPUSIM_IMMUNO_TABLE


def threshold(p: float) -> int:
    """uint32 threshold T for probability p: P(word < T) = T / 2**32.

    p = 1 maps to 2**32 - 1 (probability 1 - 2**-32)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability {p} outside [0, 1]")
    return min(int(round(p * 2.0**32)), 2**32 - 1)


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
    return np.array([threshold(float(v)) for v in a], dtype=np.uint32)


@dataclass(frozen=True)
class ModelParams:
    """Everything the rules need, already in kernel units."""

    shape: tuple[int, int, int]  # nx, ny, nz
    nbr: np.ndarray  # int32[k, 3]
    periodic: bool
    key: tuple[int, int]  # seed low, high words
    p_tumour_divide: int
    p_tumour_death: int
    p_stem_symmetric: int
    max_divisions: int
    p_mut_neoantigen: int
    p_mut_pdl1: int
    p_mut_hla: int
    immunogenicity: np.ndarray  # uint32[IMMUNO_TABLE]

    @property
    def n_sites(self) -> int:
        nx, ny, nz = self.shape
        return nx * ny * nz


def model_params(cfg: Config) -> ModelParams:
    dt_days = cfg.simulation.dt_minutes / MINUTES_PER_DAY
    t = cfg.tumour
    seed = cfg.simulation.seed
    return ModelParams(
        shape=full_shape(cfg.lattice.shape),
        nbr=offsets(cfg.lattice.neighbourhood, cfg.lattice.dim),
        periodic=cfg.lattice.boundary == "periodic",
        key=(seed & 0xFFFFFFFF, seed >> 32),
        p_tumour_divide=threshold(rate_probability(t.division_rate_per_day, dt_days)),
        p_tumour_death=threshold(rate_probability(t.death_rate_per_day, dt_days)),
        p_stem_symmetric=threshold(t.stem_symmetric_division_prob),
        max_divisions=t.max_divisions,
        p_mut_neoantigen=threshold(t.neoantigen_prob_per_division),
        p_mut_pdl1=threshold(t.pdl1_prob_per_division),
        p_mut_hla=threshold(t.hla_loss_prob_per_division),
        immunogenicity=immunogenicity_table(t.immunogenicity.distribution, t.immunogenicity.mean),
    )
