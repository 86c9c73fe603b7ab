"""Clonal structure from the clone table: subtree populations, variant
allele frequencies and the neutral-evolution test of Williams et al. (2016).

Each clone is founded by a daughter that gained k >= 1 new mutations (or
only an escape event, k = 0); its k mutations are inherited by all its
descendants.  In a diploid tumour of N cells with every mutation
heterozygous, each of the mutations that founded clone c has variant allele
frequency f_c = (cells in c and its descendants) / (2 N): a sequencing VAF
spectrum holds f_c k_c times.  Under neutral growth the cumulative number of
mutations with frequency >= f follows M(f) = (mu / beta) (1/f - 1/f_max)
(Williams et al. 2016, Nat Genet 48:238).

The clone table has row 0 = "no clone", row 1 = the founder (present before
the simulation, so not counted as a mutation), and every clone numbered after
its parent (parent[c] < c).

>>> parent = np.array([0, 0, 1, 1, 2])
>>> population = np.array([0, 4, 2, 1, 1])
>>> subtree_populations(parent, population).tolist()
[0, 8, 3, 1, 1]
>>> variant_allele_frequencies(parent, population).tolist()   # one per clone 2, 3, 4
[0.1875, 0.0625, 0.0625]
>>> mutations = np.array([0, 0, 2, 0, 1])                    # clone 3: an escape event only
>>> variant_allele_frequencies(parent, population, mutations).tolist()
[0.1875, 0.1875, 0.0625]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: Fewer mutations than this in the fitted band: neutral_fit warns (R^2 is nan
#: with none, and noise with a handful).
MIN_FIT_MUTATIONS = 10


def clone_depths(parent: np.ndarray) -> np.ndarray:
    """Depth of every clone (founder = 1, row 0 = 0), by pointer doubling."""
    parent = np.asarray(parent, dtype=np.int64)
    n = len(parent)
    anc = parent.copy()
    if n:
        anc[0] = 0
    dist = (np.arange(n) > 0).astype(np.int64)  # edges from i to anc[i]
    while anc.any():
        dist = dist + dist[anc]
        anc = anc[anc]
    return dist


def subtree_populations(parent: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Cells of each clone plus all its descendants (int64)."""
    parent = np.asarray(parent, dtype=np.int64)
    sub = np.asarray(population, dtype=np.int64).copy()
    depth = clone_depths(parent)
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(depth.max(initial=0) + 2))
    for d in range(depth.max(initial=0), 1, -1):  # deepest level first, into its parents
        idx = order[bounds[d]: bounds[d + 1]]
        np.add.at(sub, parent[idx], sub[idx])
    return sub


def variant_allele_frequencies(parent: np.ndarray, population: np.ndarray,
                               mutations: np.ndarray | None = None) -> np.ndarray:
    """Frequency of every mutation acquired after the founder: clone c's
    frequency repeated ``mutations[c]`` times (the clone table's new
    mutations at founding), clones in id order; zeros for extinct lineages.
    Without ``mutations``, one value per clone 2, 3, ... (its founding event)."""
    sub = subtree_populations(parent, population)
    n_cells = int(np.asarray(population, dtype=np.int64)[1:].sum())
    f = sub[2:] / (2.0 * n_cells) if n_cells else np.zeros(max(len(sub) - 2, 0))
    if mutations is None:
        return f
    return np.repeat(f, np.asarray(mutations, dtype=np.int64)[2:])


def cumulative_mutations(vaf: np.ndarray, f: np.ndarray, fmax: float = 0.5) -> np.ndarray:
    """M(f): number of mutations with frequency in [f, fmax], for each f."""
    v = np.sort(np.asarray(vaf, dtype=float))
    v = v[v <= fmax]
    return len(v) - np.searchsorted(v, np.asarray(f, dtype=float), side="left")


@dataclass(frozen=True)
class NeutralFit:
    """Fit of M(f) = slope (1/f - 1/fmax) over [fmin, fmax]; slope estimates mu/beta."""

    slope: float
    r_squared: float
    fmin: float
    fmax: float
    n_mutations: int  # mutations with frequency in [fmin, fmax]


def neutral_fit(vaf: np.ndarray, fmin: float = 0.12, fmax: float = 0.24, step: float = 0.001) -> NeutralFit:
    """Least-squares fit of M(f) against 1/f - 1/fmax, through the origin,
    on the grid f = fmax, fmax - step, ..., fmin (as neutralitytestr does);
    R^2 is that of a fit through the origin (1 - SS_res / sum M^2).
    Williams et al. call a tumour neutral when R^2 >= 0.98.

    >>> rng = np.random.default_rng(1)
    >>> vaf = 1 / rng.uniform(1 / 0.5, 1 / 0.01, 20000)   # 1/f uniform: M(f) ~ (20000/98) / f
    >>> fit = neutral_fit(vaf)
    >>> fit.r_squared > 0.99, 190 < fit.slope < 220, fit.n_mutations > 500
    (True, True, True)
    """
    if not 0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax (got {fmin}, {fmax})")
    if fmin < step / 2:  # the grid would reach f <= 0
        raise ValueError(f"fmin {fmin} must exceed half the grid step {step} (pass a smaller step)")
    f = np.arange(fmax, fmin - step / 2, -step)
    m = cumulative_mutations(vaf, f, fmax).astype(float)
    x = 1.0 / f - 1.0 / fmax
    sxx = float(x @ x)
    slope = float(x @ m) / sxx if sxx else 0.0
    ss_tot = float(m @ m)
    r2 = 1.0 - float(((m - slope * x) ** 2).sum()) / ss_tot if ss_tot else float("nan")
    v = np.asarray(vaf, dtype=float)
    n = int(((v >= fmin) & (v <= fmax)).sum())
    if n < MIN_FIT_MUTATIONS:  # say why R^2 is nan (or noise) instead of returning it silently
        largest = f"{v.max():.3g}" if len(v) else "none"
        warnings.warn(f"neutral_fit: {n} mutation(s) with VAF in [{fmin:g}, {fmax:g}] (largest VAF {largest}); "
                      f"R^2 is {'undefined (nan)' if n == 0 else 'not meaningful'} below {MIN_FIT_MUTATIONS}: "
                      "choose a band where the tumour's subclonal VAFs lie", RuntimeWarning, stacklevel=2)
    return NeutralFit(slope, r2, fmin, fmax, n)
