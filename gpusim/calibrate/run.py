"""``gpusim calibrate``: ABC-SMC (pyABC) of a spec against its data, each
generation simulated as batched cohorts.

Output directory::

    DIR/calibration.json   what was fitted (spec, base config, data, settings) and its fingerprint
    DIR/calibration.db     pyABC's History (SQLite): every generation, committed when it completes
    DIR/posterior.csv      the last generation's particles: one column per parameter (config key),
                           weight, distance (and .parquet)
    DIR/summary.csv        per parameter: truth (if stated), prior 90 % interval, posterior
                           median and 90 % credible interval, width ratio prior / posterior
    DIR/generations.csv    per generation: epsilon, accepted, particles simulated, runs, seconds
    DIR/predictive.csv     data rows with the last generation's simulated 5/50/95 % quantiles
    DIR/marginals.png, DIR/pairs.png, DIR/epsilon.png, DIR/predictive.png

Rerun the same command after a kill (or after it stopped at its limits,
with a larger ``generations``) and it continues from the last completed
generation: pyABC's History holds every completed generation, and a
generation's proposals, seeds and acceptances depend only on the spec seed,
the generation number and the generations before it (the sampler reseeds
NumPy at each generation's start; run seeds derive from the particle's
place in its generation).  So a calibration killed mid-generation and
rerun gives the same posterior as one never killed (tests/test_calibrate.py).
What pyABC itself guarantees is weaker: a loaded History continues from its
last population, nothing about random streams.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import InputError
from .data import load_data, scales
from .spec import MASS, CalibrationSpec, load_spec

log = logging.getLogger("gpusim")

DB = "calibration.db"
MANIFEST = "calibration.json"


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its weighted CDF, at
    the midpoints of each value's weight).

    >>> float(weighted_quantile(np.array([1.0, 2.0, 3.0]), np.ones(3), 0.5))
    2.0
    """
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, v)


class Calibration:
    """A loaded spec with its base config, arms, data and simulator."""

    def __init__(self, spec_path: str | Path, backend: str = "auto", batch: int | str = "auto",
                 quick: bool = False):
        from ..config import apply_overrides
        from ..sweepdir.runs import check_keys  # the sweep's check that every key names a config value
        from .simulate import Simulator

        spec_path = Path(spec_path)
        self.spec: CalibrationSpec
        self.spec, self.text = load_spec(spec_path)
        spec = self.spec
        self.quick = quick
        self.abc, self.replicates = spec.settings(quick)
        base = load_config(spec_path.parent / spec.base.config, spec.base.overrides())
        if spec.base.initial is not None:
            from ..tissue import with_initial

            base = with_initial(base, spec_path.parent / spec.base.initial)
        check_keys([p.key for p in spec.axes], base, str(spec_path))
        base = apply_overrides(base, ["output.frame_every_steps=0", "output.checkpoint_every_steps=0"])
        self.arm_configs = {}
        for arm in spec.arms or [None]:
            cfg = base if arm is None else base.model_copy(update={"therapy": arm.entries})
            self.arm_configs["base" if arm is None else arm.name] = cfg
        days = base.simulation.steps * base.simulation.dt_days
        self.data = load_data(spec_path.parent / spec.data.file, spec.arm_names, days, base.lattice.dim)
        for p in spec.params:  # every prior's bounds must give a valid config
            for value in p.interval(0.999):
                try:
                    apply_overrides(base, [f"{p.key}={value!r}"])
                except InputError as err:
                    raise InputError(f"{spec_path}: params {p.key}: the prior reaches {value:g}, which the config "
                                     f"refuses: {err}") from None
        if base.initial is not None:
            from ..tissue import load_section

            load_section(base)
        self.base = base
        self.scale = scales(self.data)
        self.simulator = Simulator(self.arm_configs, self.data, spec.params, spec.seed, self.replicates,
                                   backend=backend, batch=batch)

    @property
    def names(self) -> dict[str, str]:
        return {p.name: p.key for p in self.spec.params}

    def fingerprint(self) -> str:
        """Changes whenever the calibration would (spec, base, data, --quick)."""
        spec = self.spec.model_dump(mode="json")
        spec["base"].pop("config")
        payload = {"spec": spec, "base": self.base.model_dump(mode="json"), "quick": self.quick,
                   "data": self.data.astype({"time": float, "value": float}).to_dict("list")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def distance(self, x: dict, x0: dict) -> float:
        """p-norm of the scaled residuals; a NaN statistic is infinitely far."""
        r = (np.asarray(x["stats"]) - np.asarray(x0["stats"])) / self.scale
        if not np.all(np.isfinite(r)):
            return math.inf
        return float(np.sum(np.abs(r) ** self.spec.distance.p) ** (1.0 / self.spec.distance.p))

    def abcsmc(self, resume: bool):
        """pyABC's ABCSMC with the batch sampler.  Generation 0 accepts every
        prior particle (epsilon inf); each later epsilon is the median of
        the last generation's weighted distances -- on a resumed run
        computed from the stored generation ('from_sample'), the same
        number an uninterrupted run computes in memory."""
        import pyabc

        from .sampler import BatchModel, BatchSampler

        prior = pyabc.Distribution(**{p.name: p.rv() for p in self.spec.params})
        sampler = BatchSampler(self.simulator, self.spec.seed)
        eps = pyabc.QuantileEpsilon(initial_epsilon="from_sample" if resume else math.inf, alpha=0.5)
        return pyabc.ABCSMC(BatchModel(self.names), prior, self.distance,
                            population_size=self.abc.population, sampler=sampler, eps=eps)


def prepare_dir(out: Path, fingerprint: str, manifest: dict) -> bool:
    """Check ``out`` (create it if new); True when it holds this calibration
    already (to continue)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        path = out / MANIFEST
        if not path.exists():
            raise InputError(f"{out}: not empty and not a calibration directory (no {MANIFEST})")
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: unreadable ({err.__class__.__name__})") from None
        if stored.get("fingerprint") != fingerprint:
            raise InputError(f"{out}: holds a different calibration (spec, base config, data or --quick changed); "
                             "use a new directory")
        return (out / DB).exists()
    if not out.parent.is_dir():
        raise InputError(f"-o {out}: directory {out.parent} does not exist")
    out.mkdir(exist_ok=True)
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({**manifest, "fingerprint": fingerprint}, indent=1, default=str))
    tmp.replace(out / MANIFEST)
    return False


def calibrate(spec_path: str | Path, out: str | Path, backend: str = "auto", batch: int | str = "auto",
              quick: bool = False, plots: bool = True) -> dict:
    """Run (or continue) the calibration of ``spec_path`` into ``out``;
    returns the posterior summary (parameter -> dict)."""
    import pyabc

    out = Path(out)
    cal = Calibration(spec_path, backend=backend, batch=batch, quick=quick)
    fingerprint = cal.fingerprint()
    manifest = {"spec": cal.text, "base": cal.base.to_toml(), "quick": quick, "population": cal.abc.population,
                "generations": cal.abc.generations, "replicates": cal.replicates}
    resume = prepare_dir(out, fingerprint, manifest)
    abc = cal.abcsmc(resume)
    db = f"sqlite:///{(out / DB).resolve()}"
    x0 = {"stats": cal.data["value"].to_numpy(np.float64)}
    if resume:
        abc.load(db, 1)
        done = abc.history.max_t + 1
        log.info(f"{out}: continuing after generation {done - 1} ({done} of {cal.abc.generations} done)")
    else:
        abc.new(db, x0)
        done = 0
    remaining = cal.abc.generations - done
    if remaining > 0:
        with warnings.catch_warnings():
            # pyABC's stopping rule compares successive epsilons: after generation 0 (epsilon inf) that is
            # inf - inf, a NaN that correctly does not stop the run.
            warnings.filterwarnings("ignore", "invalid value encountered in scalar subtract", RuntimeWarning)
            abc.run(minimum_epsilon=cal.abc.min_epsilon, max_nr_populations=remaining,
                    min_acceptance_rate=cal.abc.min_acceptance_rate,
                    max_total_nr_simulations=cal.abc.max_simulations or np.inf)
    history = pyabc.History(db, _id=1)
    summary = write_outputs(cal, history, out, plots)
    return summary


def posterior(cal: Calibration, history):
    """The last generation's particles: parameter columns (config keys), weight, distance."""
    frame, w = history.get_distribution(m=0, t=history.max_t)
    table = frame.rename(columns=cal.names)[[p.key for p in cal.spec.params]].reset_index(drop=True)
    table["weight"] = np.asarray(w, float)
    pop = history.get_population(t=history.max_t)
    table["distance"] = [p.distance for p in pop.particles]
    table.attrs["generation"] = int(history.max_t)
    return table


def summarise(cal: Calibration, table) -> dict:
    summary = {}
    tail = (1 - MASS) / 2
    for p in cal.spec.params:
        lo, hi = p.interval(MASS)
        q = weighted_quantile(table[p.key].to_numpy(), table["weight"].to_numpy(), [tail, 0.5, 1 - tail])
        width = (math.log(q[2]) - math.log(q[0])) if p.log_scale else q[2] - q[0]
        prior_width = (math.log(hi) - math.log(lo)) if p.log_scale else hi - lo
        summary[p.key] = {"truth": p.truth, "prior_lo": lo, "prior_hi": hi, "median": float(q[1]),
                          "lo": float(q[0]), "hi": float(q[2]),
                          "narrowing": prior_width / width if width > 0 else math.inf,
                          "covers_truth": None if p.truth is None else bool(q[0] <= p.truth <= q[2])}
    return summary


def write_outputs(cal: Calibration, history, out: Path, plots: bool) -> dict:
    import pandas as pd

    table = posterior(cal, history)
    for fmt in ("csv", "parquet"):
        path = out / f"posterior.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        (table.to_csv if fmt == "csv" else table.to_parquet)(tmp, index=False)
        tmp.replace(path)
    summary = summarise(cal, table)
    rows = [{"parameter": k, **v} for k, v in summary.items()]
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)
    gens = history.get_all_populations()
    gens = gens[gens["t"] >= 0].rename(columns={"t": "generation", "samples": "particles_simulated",
                                                "particles": "accepted"})
    gens["acceptance_rate"] = gens["accepted"] / gens["particles_simulated"]
    gens["runs"] = gens["particles_simulated"] * cal.replicates * len(cal.arm_configs)
    gens[["generation", "epsilon", "accepted", "particles_simulated", "acceptance_rate", "runs",
          "population_end_time"]].to_csv(out / "generations.csv", index=False)
    predictive = predictive_table(cal, history)
    predictive.to_csv(out / "predictive.csv", index=False)
    for key, s in summary.items():
        truth = "" if s["truth"] is None else f"; truth {s['truth']:g} {'inside' if s['covers_truth'] else 'OUTSIDE'}"
        log.info(f"{key}: median {s['median']:.4g}, {MASS:.0%} CI [{s['lo']:.4g}, {s['hi']:.4g}] "
                 f"({s['narrowing']:.1f}x narrower than the prior's [{s['prior_lo']:.4g}, {s['prior_hi']:.4g}]){truth}")
    if plots:
        from .plots import save_figures

        for path in save_figures(cal, table, summary, gens, predictive, out):
            log.info(f"wrote {path}")
    return summary


def predictive_table(cal: Calibration, history):
    """Each data row with the last generation's simulated statistics (its
    accepted particles' summaries, weighted): 5, 50 and 95 % quantiles."""
    pop = history.get_population(t=history.max_t)
    stats = np.array([np.asarray(p.sum_stat["stats"], float) for p in pop.particles])
    w = np.array([p.weight for p in pop.particles], float)
    table = cal.data.copy()
    for name, q in (("sim_q05", 0.05), ("sim_median", 0.5), ("sim_q95", 0.95)):
        table[name] = [float(weighted_quantile(stats[:, j], w, q)) if np.isfinite(stats[:, j]).all() else math.nan
                       for j in range(stats.shape[1])]
    return table
