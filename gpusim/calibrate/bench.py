"""One calibration generation batched against the same runs one at a time
(``gpusim bench --calibrate SPEC``).

The particles are drawn from the spec's priors (a fixed seed): generation
0 of the calibration.  Both sides simulate exactly the same runs (same
seeds), back to back in one process; the statistics must agree to the
last bit, which the bench checks.
"""

from __future__ import annotations

import time

import numpy as np


def prior_particles(cal, n: int, seed: int = 1) -> list[dict]:
    """``n`` parameter vectors drawn from the spec's priors."""
    rng = np.random.default_rng(seed)
    draws = {p.key: p.rv().distribution.rvs(size=n, random_state=rng) for p in cal.spec.params}
    return [{k: float(v[i]) for k, v in draws.items()} for i in range(n)]


def bench_generation(spec, backend: str = "auto", particles: int | None = None, batch: int | str = "auto",
                     quick: bool = False, log=print) -> dict:
    """Runs per hour of one generation batched and one run at a time."""
    from .run import Calibration

    cal = Calibration(spec, backend=backend, batch=batch, quick=quick)
    n = particles or cal.abc.population
    sample = prior_particles(cal, n)
    runs = n * cal.replicates * len(cal.arm_configs)
    cal.simulator(sample[:1], 0, 0, batch=1)  # compile and load the kernels outside the timings
    start = time.perf_counter()
    together = cal.simulator(sample, 0, 0)
    batched = time.perf_counter() - start
    log(f"batched: {runs} runs in {batched:.1f} s")
    start = time.perf_counter()
    alone = [cal.simulator([p], 0, i, batch=1)[0] for i, p in enumerate(sample)]
    one = time.perf_counter() - start
    log(f"one at a time: {runs} runs in {one:.1f} s")
    if not np.array_equal(np.array(together), np.array(alone), equal_nan=True):
        raise AssertionError("a generation batched and one at a time gave different statistics")
    first = next(iter(cal.arm_configs.values()))
    return {"backend": cal.simulator.backend, "particles": n, "runs": runs, "steps": cal.simulator.steps,
            "shape": list(first.lattice.shape), "batched_s": batched, "alone_s": one,
            "batched_runs_per_hour": runs / batched * 3600, "alone_runs_per_hour": runs / one * 3600,
            "speedup": one / batched}
