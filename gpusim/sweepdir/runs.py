"""From a sweep spec to its list of runs: expansion, run ids, run seeds.

A run's id and seed depend only on what the run is -- its swept parameter
values, its arm and its replicate -- never on how many runs there are, in
which order they are done, or on which rank:

* run id = ``sha256(canonical JSON of {overrides, arm, replicate})``, first 12
  hex digits (``overrides`` maps each swept key to its value);
* run seed = the first 8 bytes of ``sha256(sweep_seed as 8 little-endian
  bytes || run id)``, read as a little-endian uint64.

>>> run_id({"tumour.death_rate_per_day": 0.2}, "control", 0)
'5c8624c595ad'
>>> run_seed(42, "5c8624c595ad")
18059039486914105399

A run is reproduced alone by ``gpusim run BASE.toml --set ... --seed SEED``
with the run's ``overrides`` (``Run.overrides``: the swept values and, for an
arm, the whole ``therapy`` list as a TOML inline array).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..config import Config, apply_overrides, load_config, toml_value
from ..errors import InputError
from .spec import SweepSpec, load_spec, scaled

ID_LENGTH = 12


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces: the same data always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def run_id(overrides: dict[str, Any], arm: str, replicate: int) -> str:
    payload = canonical_json({"overrides": overrides, "arm": arm, "replicate": replicate})
    return hashlib.sha256(payload.encode()).hexdigest()[:ID_LENGTH]


def run_seed(sweep_seed: int, rid: str) -> int:
    digest = hashlib.sha256(sweep_seed.to_bytes(8, "little") + rid.encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class Run:
    """One simulation of the sweep."""

    index: int  # position in the sweep (dispatch order only: ids do not depend on it)
    id: str
    arm: str
    replicate: int
    seed: int
    params: dict[str, Any]  # swept key -> value
    overrides: tuple[str, ...]  # --set strings on top of the (resolved) base config

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "arm": self.arm, "replicate": self.replicate,
                "seed": self.seed, "params": self.params, "overrides": list(self.overrides)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Run":
        return cls(d["index"], d["id"], d["arm"], d["replicate"], d["seed"], d["params"], tuple(d["overrides"]))


@dataclass
class SweepPlan:
    """A loaded sweep: the spec, the resolved base config and every run."""

    spec: SweepSpec
    spec_path: Path
    spec_text: str
    base: Config  # the base file with [base.set] applied
    runs: list[Run]

    @cached_property
    def base_data(self) -> dict[str, Any]:
        """The base config as data, dumped once for every run's overrides."""
        return self.base.model_dump(mode="json")

    def config(self, run: Run) -> Config:
        """The run's full config (base + overrides + seed), as ``gpusim run``
        builds it; made when asked, not kept (a plan of :data:`~.spec.MAX_RUNS`
        configs would hold gigabytes, and MPI sends the plan to every rank)."""
        return apply_overrides(self.base_data, [*run.overrides, f"simulation.seed={run.seed}"])

    def fingerprint(self) -> str:
        """Changes whenever any run would differ (spec, base config, gpusim's
        config defaults, the random sample): a sweep directory is only ever
        resumed by the sweep that made it."""
        spec = self.spec.model_dump(mode="json")
        spec["base"].pop("config")  # the path may move; the resolved base below is what counts
        spec["base"].pop("initial")  # likewise (the base holds the section's file and hash)
        payload = {"spec": spec, "base": self.base_data,
                   "runs": [[r.id, r.seed] for r in self.runs]}
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:16]


def parameter_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Grid points crossed with the Latin hypercube sample, in a stable order.

    >>> from gpusim.sweepdir.spec import parse_spec
    >>> spec = parse_spec({"seed": 3, "base": {"config": "b.toml"},
    ...     "grid": [{"key": "a.x", "values": [1, 2]}],
    ...     "random": {"samples": 2, "params": [{"key": "a.y", "min": 1.0, "max": 100.0, "scale": "log"}]}})
    >>> [sorted(p) for p in parameter_points(spec)]
    [['a.x', 'a.y'], ['a.x', 'a.y'], ['a.x', 'a.y'], ['a.x', 'a.y']]
    """
    grid = [dict(zip([a.key for a in spec.grid], combo)) for combo in itertools.product(*(a.points() for a in spec.grid))]
    if spec.random is None:
        return grid
    params = spec.random.params
    unit = unit_sample(spec.random, spec.seed)
    sample = [{p.key: scaled(float(u[j]), p.min, p.max, p.scale, p.integer) for j, p in enumerate(params)}
              for u in unit]
    return [{**g, **s} for g in grid for s in sample]


def unit_sample(random, seed: int):
    """The random design's points in the unit cube, one row per point:
    a Latin hypercube, or the Saltelli sample of SALib (first-order and
    total Sobol' indices: N (D + 2) rows, the order SALib's analysis needs)."""
    if random.design == "sobol":
        from SALib.sample import sobol

        problem = {"num_vars": len(random.params), "names": [p.key for p in random.params],
                   "bounds": [[0.0, 1.0]] * len(random.params)}
        return sobol.sample(problem, random.samples, calc_second_order=False, seed=seed % 2**32)
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=len(random.params), rng=seed).random(random.samples)


def patient(spec: SweepSpec, point: dict[str, Any], replicate: int) -> dict[str, float]:
    """The virtual patient of (``point``, ``replicate``): one draw from each
    ``[population]`` distribution, by a generator seeded from the sweep
    seed, the point and the replicate -- not the arm, so every arm treats
    the same patients (paired arms), and not the sweep's size or order.

    >>> from gpusim.sweepdir.spec import parse_spec
    >>> spec = parse_spec({"seed": 3, "base": {"config": "b.toml"}, "replicates": 2,
    ...     "population": {"patient.body_weight_kg": {"median": 80.0, "cv": 0.2}}})
    >>> a, b = patient(spec, {}, 0), patient(spec, {}, 1)
    >>> a == patient(spec, {}, 0) and a != b
    True
    """
    if not spec.population:  # no generator to seed (most sweeps: a point and replicate are the whole run)
        return {}
    import numpy as np

    digest = hashlib.sha256(spec.seed.to_bytes(8, "little")
                            + canonical_json({"point": point, "replicate": replicate}).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return {key: dist.draw(rng) for key, dist in sorted(spec.population.items())}


def expand(spec: SweepSpec) -> list[Run]:
    """Every run: parameter points x arms x replicates (each replicate a
    virtual patient where the spec has a ``[population]``)."""
    from .spec import Arm

    arms = spec.arms or [None]  # None: keep the base config's therapy list
    runs: list[Run] = []
    for point in parameter_points(spec):
        patients = [patient(spec, point, rep) for rep in range(spec.replicates)]
        for arm in arms:
            for rep in range(spec.replicates):
                name = arm.name if arm is not None else "base"
                rid = run_id(point, name, rep)
                overrides = [f"{k}={toml_value(v)}" for k, v in {**point, **patients[rep]}.items()]
                if isinstance(arm, Arm):
                    entries = [e.model_dump(mode="json") for e in arm.entries]  # unset fields left out
                    overrides.append(f"therapy={toml_value(entries)}")
                runs.append(Run(len(runs), rid, name, rep, run_seed(spec.seed, rid), point, tuple(overrides)))
    seen: dict[str, Run] = {}
    for run in runs:
        if run.id in seen:  # only a repeated grid value can do this
            raise InputError(f"runs {seen[run.id].index} and {run.index} are the same run "
                             f"({run.arm}, {run.params}): a grid axis repeats a value")
        seen[run.id] = run
    return runs


def check_keys(keys, base: Config, where: str) -> None:
    """Every swept (or fitted) key must name a leaf of the config (a typo is an error, not a no-op)."""
    for key in keys:
        node: Any = base
        for part in key.split("."):
            if not isinstance(node, BaseModel) or part not in type(node).model_fields:
                raise InputError(f"{where}: {key}: no such config key")
            node = getattr(node, part)
        if isinstance(node, BaseModel):
            raise InputError(f"{where}: {key}: is a table, not a value (sweep one of its keys)")


def load_plan(path: str | Path) -> SweepPlan:
    """Read a sweep file, resolve its base config and list its runs.

    Every run's config is validated here, so a bad value fails before any
    run starts (one line naming the run and the key).
    """
    path = Path(path)
    spec, text = load_spec(path)
    base_path = path.parent / spec.base.config
    base = load_config(base_path, spec.base.overrides())
    if spec.base.initial is not None:  # a tissue section for every run (gpusim.tissue), beside the sweep file
        from ..tissue import with_initial

        base = with_initial(base, path.parent / spec.base.initial)
    if base.initial is not None:  # a bad section fails now, not in the first batch
        from ..tissue import load_section

        load_section(base)
    check_keys([axis.key for axis in spec.axes] + list(spec.population), base, str(path))
    plan = SweepPlan(spec, path, text, base, expand(spec))
    checked: set[tuple[str, ...]] = set()
    for run in plan.runs:
        # A run's seed is in range by construction (run_seed): runs that
        # differ only in it (replicates without a [population]) are one check.
        if run.overrides in checked:
            continue
        try:
            apply_overrides(plan.base_data, list(run.overrides))
        except InputError as err:
            raise InputError(f"{path}: run {run.id} ({run.arm}, {run.params}): {err}") from None
        checked.add(run.overrides)
    return plan
