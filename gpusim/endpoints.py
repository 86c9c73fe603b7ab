"""Trial endpoints per RECIST 1.1 on tumour diameters (Eisenhauer et al.
2009, Eur J Cancer 45:228), per run and per arm of a sweep.

**Measurement.**  The tumour's longest diameter is the largest distance
between two tumour cells (centre to centre, plus one cell: one cell
measures dx), taken at the assessment visits: the frames of the run file
(``output.frame_every_steps``).  It is computed on the host from frames the
run writes anyway -- no per-site transfer in any step beyond those -- and
over the convex hull of the tumour cells only, so a visit costs
O(cells) once, not O(sites) every step.  In 3D it is the longest diameter in
space, or, for runs that store mid-plane slices (``output.slices``), the
longest diameter in the xy mid-plane (an axial section, as a CT reads it).
The stated alternative, the equivalent-sphere diameter (the diameter of the
disc (2D) or ball (3D) of the tumour's cell count), comes from the cell-count
observable at every recorded step for free.

**Rules.**  Baseline: the last visit at or before the first therapy's
start.  At each later visit: ``CR`` no tumour cells; ``PR`` diameter at least
30 % below baseline; ``PD`` at least 20 % above the smallest diameter so far
(baseline included); ``SD`` otherwise.  RECIST's further 5 mm absolute
increase for PD is left out: simulated tumours are a millimetre or less
across.  Best overall response: the best label before the first PD (PD when
PD comes first).  Progression-free survival: days from baseline to the first
PD visit, censored at the last visit.

>>> import numpy as np
>>> assess(np.array([0.0, 10, 20, 30]), np.array([100.0, 60, 55, 70]), start_day=0.0)["labels"]
['PR', 'PR', 'PD']
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .outcome import PD_CHANGE, PR_CHANGE

#: Diameters, in the order of preference of :func:`assess` and the tables.
DIAMETERS = ("longest", "equivalent")
BEST_ORDER = ("CR", "PR", "SD", "PD", "NE")


def longest_diameter(points: np.ndarray) -> float:
    """Largest centre-to-centre distance between ``points`` (N, dim) of
    tumour sites, plus one site (in sites; 0 without points).

    >>> longest_diameter(np.array([[0, 0], [3, 4]]))
    6.0
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return 0.0
    if len(points) > points.shape[1] + 1:
        from scipy.spatial import ConvexHull, QhullError

        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # all points on a line or a plane: every point is a candidate
            pass
    if len(points) < 2:
        return 1.0
    from scipy.spatial.distance import cdist

    # Every pair, a block of rows at a time (a large 3D hull has thousands of vertices).
    longest = max(float(cdist(points[i:i + 1024], points).max()) for i in range(0, len(points), 1024))
    return longest + 1.0


def frame_diameter(clone_frame: np.ndarray) -> float:
    """:func:`longest_diameter` of the tumour sites (clone != 0) of one frame."""
    return longest_diameter(np.argwhere(np.asarray(clone_frame) != 0))


def equivalent_diameter(cells, dim: int):
    """Diameter (in sites) of the disc (2D) or ball (3D) of ``cells`` sites.

    >>> round(float(equivalent_diameter(np.pi * 25, 2)), 6)
    10.0
    """
    cells = np.asarray(cells, dtype=np.float64)
    return 2.0 * np.sqrt(cells / np.pi) if dim == 2 else np.cbrt(6.0 * cells / np.pi)


def visit_label(diameter: float, baseline: float, nadir: float) -> str:
    if diameter == 0:
        return "CR"
    if diameter >= (1 + PD_CHANGE) * nadir:
        return "PD"
    return "PR" if diameter <= (1 + PR_CHANGE) * baseline else "SD"


def assess(times: np.ndarray, diameters: np.ndarray, start_day: float) -> dict:
    """RECIST labels of the visits after ``start_day``, best overall
    response, best change from baseline and progression-free time."""
    times, diameters = np.asarray(times, float), np.asarray(diameters, float)
    before = np.flatnonzero(times <= start_day + 1e-9)
    base_idx = before[-1] if len(before) else 0
    baseline = float(diameters[base_idx])
    out = {"baseline": baseline, "labels": [], "best_overall_response": "NE", "best_change": math.nan,
           "pfs_days": 0.0, "progressed": False, "visit_days": [], "changes": []}
    if baseline == 0:
        return out
    nadir = baseline
    for t, d in zip(times[base_idx + 1:], diameters[base_idx + 1:]):
        label = visit_label(float(d), baseline, nadir)
        nadir = min(nadir, float(d))
        out["labels"].append(label)
        out["visit_days"].append(float(t - times[base_idx]))
        out["changes"].append(float(d / baseline - 1))
    labels = out["labels"]
    if not labels:
        return out
    first_pd = labels.index("PD") if "PD" in labels else len(labels)
    before_pd = labels[:first_pd] or ["PD"]
    out["best_overall_response"] = min(before_pd, key=BEST_ORDER.index)
    out["best_change"] = min(out["changes"][: max(first_pd, 1)])
    out["progressed"] = first_pd < len(labels)
    out["pfs_days"] = out["visit_days"][first_pd] if out["progressed"] else out["visit_days"][-1]
    return out


def run_diameters(path, kind: str = "longest") -> tuple[np.ndarray, np.ndarray]:
    """(visit days, diameters in um) of a run file: ``longest`` at its
    frames, or ``equivalent`` at the frames' steps from the cell counts."""
    from .analysis import open_run

    with open_run(path) as run:
        cfg = run.config
        dx = cfg.lattice.dx_um
        names = run.fields
        name = "tumour_clone_xy" if "tumour_clone_xy" in names else "tumour_clone"
        if name not in names:
            return np.zeros(0), np.zeros(0)
        frames = run.frames(name)
        times = np.asarray(frames.times, float)
        if kind == "equivalent":
            obs = run.observables
            cells = obs["tumour_cells"].reindex(times, method="ffill").to_numpy()
            dim = 2 if name.endswith("_xy") else cfg.lattice.dim
            return times, equivalent_diameter(cells, dim) * dx * (cells > 0)
        return times, np.array([frame_diameter(frames[k]) * dx for k in range(len(frames))])


def proportion_ci(k: int, n: int) -> tuple[float, float, float]:
    """(k / n, 95 % Clopper-Pearson interval) -- nan for n = 0."""
    if n == 0:
        return math.nan, math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return k / n, float(ci.low), float(ci.high)


class KaplanMeier(NamedTuple):
    """A product-limit curve: right-continuous steps from (0, 1), one point
    per distinct event time, with its pointwise 95 % band (log-log)."""

    times: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray


def kaplan_meier(durations, events) -> KaplanMeier:
    """Kaplan-Meier estimate of right-censored ``durations`` (``events``
    False = censored) by :func:`scipy.stats.ecdf`, with its 95 % band
    (log-log transform, Greenwood variance).

    >>> km = kaplan_meier([1.0, 2, 2, 3], [True, True, False, False])
    >>> km.times.tolist(), km.survival.tolist()
    ([0.0, 1.0, 2.0], [1.0, 0.75, 0.5])
    """
    from scipy.stats import CensoredData, ecdf

    d, e = np.asarray(durations, float), np.asarray(events, bool)
    if not e.any():  # nothing happened: the curve stays at one
        one = np.ones(1)
        return KaplanMeier(np.zeros(1), one, one, one)
    sf = ecdf(CensoredData(uncensored=d[e], right=d[~e])).sf
    with warnings.catch_warnings():  # the band is undefined where S is 0 or 1: filled below, not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(0.95, method="log-log")
    keep = np.isin(sf.quantiles, d[e])  # scipy also lists censoring times (no step there)
    with np.errstate(invalid="ignore"):
        low, high = np.nan_to_num(band.low.probabilities[keep]), np.nan_to_num(band.high.probabilities[keep], nan=1.0)
    return KaplanMeier(np.r_[0.0, sf.quantiles[keep]], np.r_[1.0, sf.probabilities[keep]], np.r_[1.0, low],
                       np.r_[1.0, high])


def _first_below_half(times: np.ndarray, curve: np.ndarray) -> float:
    hit = np.flatnonzero(curve <= 0.5)
    return float(times[hit[0]]) if len(hit) else math.inf


def km_median(durations, events) -> tuple[float, float, float]:
    """Kaplan-Meier median (days) with its 95 % interval: the first time the
    curve, and each edge of its band, falls to one half (inf where it never
    does).

    >>> km_median([1.0, 2, 3, 4], [True, True, True, True])[0]
    2.0
    """
    km = kaplan_meier(durations, events)
    return (_first_below_half(km.times, km.survival), _first_below_half(km.times, km.low),
            _first_below_half(km.times, km.high))


def arm_table(per_run: dict[str, list[dict]]) -> list[dict]:
    """Per arm: n, ORR and DCR with 95 % CIs, counts per best response,
    median PFS (days) with 95 % CI."""
    rows = []
    for arm, runs in per_run.items():
        evaluable = [r for r in runs if r["best_overall_response"] != "NE"]
        n = len(evaluable)
        bor = [r["best_overall_response"] for r in evaluable]
        row = {"arm": arm, "n": n, "not_evaluable": len(runs) - n, **{k: bor.count(k) for k in BEST_ORDER[:4]}}
        row["orr"], row["orr_low"], row["orr_high"] = proportion_ci(bor.count("CR") + bor.count("PR"), n)
        row["dcr"], row["dcr_low"], row["dcr_high"] = proportion_ci(n - bor.count("PD"), n)
        if n:
            row["pfs_median"], row["pfs_low"], row["pfs_high"] = km_median([r["pfs_days"] for r in evaluable],
                                                                           [r["progressed"] for r in evaluable])
        else:
            row["pfs_median"] = row["pfs_low"] = row["pfs_high"] = math.nan
        rows.append(row)
    return rows


def sweep_endpoints(out_dir, kind: str = "longest") -> dict[str, list[dict]]:
    """:func:`assess` of every complete run of a sweep directory, per arm
    (baseline: the run's first therapy day)."""
    from .sweepdir import store
    from .analysis.sweep_summary import collect

    df = collect(out_dir)
    per_arm: dict[str, list[dict]] = {}
    for r in df[df["status"] == "complete"].itertuples():
        if r.therapy_start_day is None or (isinstance(r.therapy_start_day, float) and math.isnan(r.therapy_start_day)):
            continue
        times, diam = run_diameters(store.run_path(out_dir, r.run_id), kind)
        if not len(times):  # no frames: no visits to assess
            continue
        per_arm.setdefault(r.arm, []).append({"run_id": r.run_id, **assess(times, diam, r.therapy_start_day)})
    return per_arm


def _fmt(p: float, lo: float, hi: float) -> str:
    return "-" if math.isnan(p) else f"{100 * p:.1f}% ({100 * lo:.0f}-{100 * hi:.0f})"


def _days(v: float) -> str:
    return "-" if math.isnan(v) else ("not reached" if math.isinf(v) else f"{v:.1f}")


def endpoint_lines(per_arm: dict[str, list[dict]], kind: str = "longest") -> list[str]:
    """The per-arm RECIST table as text."""
    rows = arm_table(per_arm)
    if not rows:
        return []
    head = ["arm", "n", "CR", "PR", "SD", "PD", "ORR (95% CI)", "DCR (95% CI)", "median PFS d (95% CI)"]
    table = [head] + [[r["arm"], str(r["n"]), *(str(r[k]) for k in ("CR", "PR", "SD", "PD")),
                       _fmt(r["orr"], r["orr_low"], r["orr_high"]), _fmt(r["dcr"], r["dcr_low"], r["dcr_high"]),
                       f"{_days(r['pfs_median'])} ({_days(r['pfs_low'])}-{_days(r['pfs_high'])})"] for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    what = "longest diameter at the frames" if kind == "longest" else "equivalent-sphere diameter"
    return [f"RECIST 1.1 on the {what} (best overall response; PFS: +20 % from nadir, Kaplan-Meier):",
            *("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(t, widths)))
              for t in table)]
