"""A calibration generation's simulations, batched: particles -> runs ->
summary statistics.

A particle (one parameter vector) is simulated as ``replicates`` patients
in every arm.  All runs of a generation's particles advance together
through :func:`gpusim.backends.make_backend` (the public batch entry point:
one launch per phase over every run of a batch, ``batch`` runs at a time,
grouped by :func:`gpusim.batch.group_by_shape`), for only as many steps as
the latest datum needs.  No run file is written: the observables the data
ask for are kept in memory, and the spatial statistics are computed from
each run's state at the data's times with the same function as
``gpusim analyse`` (:func:`gpusim.analysis.spatial.frame_statistics`).

Each run's seed derives from the spec seed, the generation, the particle's
position in the generation and the arm and patient (:func:`run_seed`), so
a generation is the same whether its runs are batched or run one by one,
on any backend.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..config import Config, apply_overrides, toml_value
from ..errors import InputError
from .data import PHENOTYPE_PREFIX, quantities


def run_seed(seed: int, generation: int, particle: int, arm: str, patient: int) -> int:
    """The 63-bit seed of one simulated patient.

    >>> run_seed(1, 0, 0, "base", 0) == run_seed(1, 0, 0, "base", 0) != run_seed(1, 0, 1, "base", 0)
    True
    """
    text = f"{seed}:{generation}:{particle}:{arm}:{patient}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


@dataclass
class Counter:
    """Simulations made so far: runs, particles and seconds (all generations)."""

    runs: int = 0
    particles: int = 0
    seconds: float = 0.0
    per_generation: dict = field(default_factory=dict)

    def add(self, generation: int, runs: int, particles: int, seconds: float) -> None:
        self.runs += runs
        self.particles += particles
        self.seconds += seconds
        g = self.per_generation.setdefault(generation, [0, 0, 0.0])
        g[0] += runs
        g[1] += particles
        g[2] += seconds


class Simulator:
    """Turns particles (dicts of config key -> value) into summary
    statistic vectors, one entry per data row."""

    def __init__(self, arm_configs: dict[str, Config], data, params: list, seed: int, replicates: int,
                 backend: str = "auto", batch: int | str = "auto"):
        from ..backends import resolve

        self.arm_configs = arm_configs
        self.data = data
        self.params = params
        self.seed = seed
        self.replicates = replicates
        self.backend = resolve(backend)
        self.batch = batch
        self.counter = Counter()
        first = next(iter(arm_configs.values()))
        dt_days = first.simulation.dt_days
        kinds = quantities(first.lattice.dim)
        self.kind = [kinds[q] for q in data["quantity"]]
        # A datum at time t reads the last recorded step at or before t.
        self.step_of = np.floor(data["time"].to_numpy() / dt_days + 1e-9).astype(np.int64)
        self.steps = int(self.step_of.max())
        self.observed = sorted({q for q, k in zip(data["quantity"], self.kind) if k == "observable"}
                               | ({"tumour_cells"} if "response" in self.kind else set()))
        self.spatial_steps = sorted({int(s) for s, k in zip(self.step_of, self.kind) if k in ("spatial", "phenotype")})
        for arm, cfg in arm_configs.items():
            if "response" in [k for k, a in zip(self.kind, data["arm"]) if a == arm]:
                from ..therapy import therapy_start_day

                if therapy_start_day(cfg) is None:
                    raise InputError(f"data: arm {arm!r} has response_rate rows but no therapy")

    def configs(self, particles: list[dict], generation: int, first: int) -> list[tuple[int, str, Config]]:
        """(particle index, arm, config) of every run of ``particles``."""
        out = []
        for i, values in enumerate(particles):
            sets = [f"{k}={toml_value(v)}" for k, v in values.items()] + [f"simulation.steps={self.steps}"]
            for arm, cfg in self.arm_configs.items():
                for r in range(self.replicates):
                    seed = run_seed(self.seed, generation, first + i, arm, r)
                    out.append((i, arm, apply_overrides(cfg, [*sets, f"simulation.seed={seed}"])))
        return out

    def __call__(self, particles: list[dict], generation: int, first: int, batch: int | str | None = None
                 ) -> list[np.ndarray]:
        """Summary statistics of ``particles`` (positions ``first``,
        ``first + 1``, ... of generation ``generation``), simulated in
        batches of ``batch`` runs (default: the Simulator's)."""
        from ..batch import auto_batch, group_by_shape

        if not particles:
            return []
        start = time.perf_counter()
        runs = self.configs(particles, generation, first)
        cfgs = [c for _, _, c in runs]
        size = batch if batch is not None else self.batch
        size = auto_batch(cfgs[0], self.backend, len(cfgs)) if size == "auto" else int(size)
        results: list[dict] = [None] * len(cfgs)
        for idx in group_by_shape(cfgs, size):
            for i, res in zip(idx, self._run_batch([cfgs[i] for i in idx])):
                results[i] = res
        stats = [self._summary([results[j] for j, (p, _, _) in enumerate(runs) if p == i],
                               [runs[j][1] for j, (p, _, _) in enumerate(runs) if p == i])
                 for i in range(len(particles))]
        self.counter.add(generation, len(cfgs), len(particles), time.perf_counter() - start)
        return stats

    def _run_batch(self, cfgs: list[Config]) -> list[dict]:
        """Run ``cfgs`` together for ``self.steps`` steps; per run, its
        observed series and the spatial statistics at the data's steps."""
        from ..analysis.spatial import frame_statistics
        from ..backends import make_backend
        from ..observables import EVENTS

        be = make_backend(self.backend, cfgs)
        n = len(cfgs)
        series = {name: np.zeros((self.steps + 1, n)) for name in self.observed}
        spatial: list[dict] = [{} for _ in range(n)]

        def record(step: int, values: dict) -> None:
            for name in self.observed:
                series[name][step] = values[name]
            if step in self.spatial_steps:
                for b, cfg in enumerate(cfgs):
                    st = be.host_state(b)
                    shape = tuple(reversed(cfg.lattice.shape))
                    spatial[b][step] = frame_statistics(st.sites["clone"].reshape(shape),
                                                        st.sites["tcell"].reshape(shape),
                                                        cfg.lattice.dx_um, cfg.analysis)

        record(0, {**be.observe(), **{k: np.zeros(n, np.int64) for k in EVENTS}})
        for step in range(1, self.steps + 1):
            events = be.step()
            record(step, {**be.observe(), **events})
        return [{"series": {k: v[:, b] for k, v in series.items()}, "spatial": spatial[b], "cfg": cfgs[b]}
                for b in range(n)]

    def _summary(self, results: list[dict], arms: list[str]) -> np.ndarray:
        """One particle's statistics: per data row, the mean over its arm's patients."""
        from ..outcome import response_of, tumour_change
        from ..therapy import therapy_start_day

        out = np.empty(len(self.data))
        dt_days = results[0]["cfg"].simulation.dt_days
        times = np.arange(self.steps + 1) * dt_days
        for row, (arm, quantity, kind, step, day) in enumerate(zip(
                self.data["arm"], self.data["quantity"], self.kind, self.step_of, self.data["time"])):
            mine = [r for r, a in zip(results, arms) if a == arm]
            if kind == "observable":
                values = [r["series"][quantity][step] for r in mine]
            elif kind == "response":
                values = []
                for r in mine:
                    start = therapy_start_day(r["cfg"])
                    base, final, change = tumour_change(times, r["series"]["tumour_cells"], start, day)
                    values.append(float(base > 0 and response_of(change, final, r["cfg"].lattice.dim) in ("CR", "PR")))
            elif kind == "phenotype":
                wanted = quantity.removeprefix(PHENOTYPE_PREFIX)
                values = [float(r["spatial"][step]["phenotype"] == wanted) for r in mine]
            else:
                values = [r["spatial"][step][quantity] for r in mine]
            finite = [float(v) for v in values if math.isfinite(float(v))]
            out[row] = np.mean(finite) if finite else math.nan
        return out
