"""``gpusim bench``: site updates per second of the model step, per backend,
lattice size and model.

The benchmark lattice is a dense tumour (about half the sites occupied, by
stem cells, so every site has work and divisions always find room) with a
high division rate and every mutation switched on: a full-lattice step, not
a small tumour in an empty box.  Timing starts after one warm-up step (the
kernel build and first-touch allocation are not measured) and ends after
the last step's counters reach the host.
"""

from __future__ import annotations

import math
import time

import numpy as np
from pydantic import ValidationError

from .backends import BACKENDS, available, make_backend
from .config import Config, LatticeConfig
from .errors import InputError
from .hostinfo import describe_host
from .state import CELL_STEM, TCELL_PRESENT, initial_state

DEFAULT_SIZES = {
    "numpy": [(256, 256), (1024, 1024), (2048, 2048), (64, 64, 64), (128, 128, 128)],
    "cpu": [(256, 256), (1024, 1024), (2048, 2048), (64, 64, 64), (128, 128, 128)],
    "cuda": [(256, 256), (1024, 1024), (2048, 2048), (8192, 8192), (64, 64, 64), (128, 128, 128),
             (256, 256, 256)],
}
MODELS = ("tumour", "full")
#: Every model ``--model`` takes; ``microenvironment`` (the full model with
#: IFN-gamma, regulatory T cells, oxygen, CCL2 and myeloid suppressors on)
#: only when asked for.
ALL_MODELS = (*MODELS, "microenvironment")


def parse_size(text: str) -> tuple[int, ...]:
    """'2048x2048' or '128x128x128' -> (nx, ny[, nz])."""
    parts = text.lower().split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"bad --size {text!r}: expected NXxNY or NXxNYxNZ")
    shape = tuple(int(p) for p in parts)
    try:  # the lattice's own limits (at most 2**32 - 2 sites), as one line
        LatticeConfig(shape=shape)
    except ValidationError as err:
        raise ValueError(f"bad --size {text!r}: {err.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return shape


def bench_config(shape: tuple[int, ...], model: str = "tumour") -> Config:
    """``tumour``: the tumour layer alone.  ``full``: tumour, T cells (10 %
    of sites, recruited at 2 % vessels), chemokine, with kills, exhaustion
    and two T-cell moves per step (dt 10 min, 2 um/min, dx 10 um).
    ``microenvironment``: ``full`` with IFN-gamma and adaptive PD-L1,
    regulatory T cells (recruited at the vessels), oxygen, the CCL2 field and
    myeloid suppressors (recruited at the vessels) on."""
    micro = model == "microenvironment"
    return Config.model_validate({
        "simulation": {"seed": 12345, "dt_minutes": 10.0},
        "lattice": {"shape": list(shape), "neighbourhood": "von_neumann", "boundary": "periodic"},
        "tumour": {
            "initial_radius_cells": 0,
            "initial_recognition": 0.3,
            "division_rate_per_day": 96.0,
            "death_rate_per_day": 6.0,
            "stem_symmetric_division_prob": 1.0,
            # P(a neoantigen per division) = 0.075 as before mutations v2
            # (mu = -ln(1 - 0.075)), so figures stay comparable.
            "mutations_per_division": 0.078,
            "neoantigen_fraction": 1.0,
            "pdl1_prob_per_division": 1e-3,
            "hla_loss_prob_per_division": 1e-3,
        },
        "immune": {"enabled": model != "tumour", "vessel_density": 0.02, "speed_um_per_min": 2.0},
        "output": {"frame_every_steps": 0},
        **({"ifng": {"enabled": True}, "tregs": {"enabled": True, "recruitment_rate_per_day": 5.0},
            "oxygen": {"enabled": True}, "ccl2": {"enabled": True},
            "myeloid": {"enabled": True, "recruitment_rate_per_day": 5.0}} if micro else {}),
    })


def bench_state(cfg: Config):
    """The dense benchmark state on the host (numpy's generator, seed 0)."""
    st = initial_state(cfg)
    rng = np.random.default_rng(0)
    occupied = rng.random(cfg.lattice.n_sites) < 0.5
    st.sites["clone"][:] = np.where(occupied, 1, 0).astype(np.uint32)
    st.sites["cell"][:] = np.where(occupied, CELL_STEM, 0).astype(np.uint8)
    st.clones["population"][1] = int(occupied.sum())
    if cfg.immune.enabled:
        tcells = rng.random(cfg.lattice.n_sites) < 0.1
        st.sites["tcell"][:] = np.where(tcells, TCELL_PRESENT | cfg.immune.kills_per_tcell, 0).astype(np.uint8)
    return st


def bench_backend(backend: str, cfg: Config):
    """A backend holding the benchmark state.  On cuda the state is made on
    the device (CuPy's generator: the same statistics as :func:`bench_state`,
    not the same sites), so a 10^9-site benchmark needs no host pass."""
    if backend != "cuda":
        from .memory import check_fits

        check_fits(cfg, backend)  # one line with both figures, before the host builds the state
        try:
            return make_backend(backend, cfg, bench_state(cfg))
        except MemoryError:  # the host pass that builds it (coordinates, masks) did not fit
            raise InputError(f"--size {'x'.join(map(str, cfg.lattice.shape))}: not enough host memory to build "
                             "the benchmark state") from None
    be = make_backend(backend, cfg)  # built by kernels: vessels and all
    xp, sites = be.xp, be.state.sites
    xp.random.seed(0)
    occupied = xp.random.random(cfg.lattice.n_sites, dtype=xp.float32) < 0.5
    sites["clone"][...] = occupied.astype(xp.uint32)
    sites["cell"][...] = occupied.astype(xp.uint8) * xp.uint8(CELL_STEM)
    be.state.clones["population"][1] = int(occupied.sum())
    if cfg.immune.enabled:
        tcells = xp.random.random(cfg.lattice.n_sites, dtype=xp.float32) < 0.1
        sites["tcell"][...] = tcells.astype(xp.uint8) * xp.uint8(TCELL_PRESENT | cfg.immune.kills_per_tcell)
    return be


def bench_one(backend: str, shape: tuple[int, ...], model: str = "tumour", steps: int | None = None,
              min_seconds: float = 1.0, profile: bool = False) -> dict:
    """Time ``steps`` steps (auto: enough for ``min_seconds``) and return a record.

    On the kernel backends the record carries the step's minimum traffic
    (each kernel's stated ``min traffic``), the bandwidth of a device copy of
    that many bytes timed in the same run (``copy_bytes_per_s``, bytes read +
    written) and ``fraction_of_copy`` = model bytes per second / copy bytes
    per second; ``profile`` adds a per-kernel table (launches, ms and bytes
    per step) timed launch by launch."""
    cfg = bench_config(shape, model)
    be = bench_backend(backend, cfg)
    recorder = be.launch_recorder()
    t0 = time.perf_counter()
    be.step()  # warm-up: builds/loads kernels, touches memory
    be.synchronize()
    first = time.perf_counter() - t0
    if steps is None:
        steps = int(min(50, max(2, math.ceil(min_seconds / max(first, 1e-6)))))
    if recorder:
        recorder.reset()
    t0 = time.perf_counter()
    for _ in range(steps):
        be.step()
    be.synchronize()
    elapsed = time.perf_counter() - t0
    n = cfg.lattice.n_sites
    roofline = _roofline(be, recorder, steps, elapsed)
    if profile and recorder:
        roofline["profile"] = _profile(be, recorder, steps, roofline["copy_bytes_per_s"])
    if recorder:
        recorder.close()
    return {
        "backend": be.name,
        "model": model,
        "shape": list(shape),
        "steps": steps,
        "seconds": elapsed,
        "site_updates_per_s": n * steps / elapsed,
        "bytes_per_site": be.bytes_per_site(),
        "device": be.describe(),
        "host": describe_host(),
        **roofline,
    }


def _roofline(be, recorder, steps: int, elapsed: float) -> dict:
    """Model bytes per step, copy bandwidth (buffers of :func:`copy_nbytes`), and the ratio."""
    if recorder is None:  # the NumPy reference has no kernels: only the copy
        nbytes = be.bytes_per_site() * be.mp.n_sites
        return {"model_bytes_per_step": None, "copy_bytes_per_s": be.copy_bytes_per_s(copy_nbytes(nbytes)),
                "fraction_of_copy": None}
    model = recorder.bytes / steps
    copy = be.copy_bytes_per_s(copy_nbytes(model))
    return {"model_bytes_per_step": model, "copy_bytes_per_s": copy,
            "fraction_of_copy": model * steps / elapsed / copy}


#: The largest copy the roofline times: bandwidth is flat long before this,
#: and two buffers of a 1024^3 step's traffic (~57 GiB) on top of the state
#: do not fit an 80 GB card.
COPY_MAX_BYTES = 1 << 30


def copy_nbytes(traffic: float) -> int:
    """Bytes each of the roofline copy's two buffers holds for ``traffic``
    bytes per step: a copy reads and writes, so half of it, at most
    :data:`COPY_MAX_BYTES`.

    >>> copy_nbytes(2e6), copy_nbytes(57 * 2**31) == COPY_MAX_BYTES
    (1000000, True)
    """
    return max(1, min(int(traffic / 2), COPY_MAX_BYTES))


def _profile(be, recorder, steps: int, copy: float) -> dict:
    """Per kernel: launches, ms, model bytes per step, and their rate as a
    fraction of the copy; each launch timed (host timer or CUDA events)."""
    recorder.reset()
    recorder.timed = True
    t0 = time.perf_counter()
    for _ in range(steps):
        be.step()
    be.synchronize()
    total = time.perf_counter() - t0
    rows = []
    for name, st in sorted(recorder.collect().items(), key=lambda kv: -kv[1].seconds):
        rows.append({"kernel": name, "launches_per_step": st.launches / steps,
                     "ms_per_step": 1e3 * st.seconds / steps, "model_bytes_per_step": st.bytes / steps,
                     "fraction_of_copy": (st.bytes / st.seconds / copy) if st.seconds else None})
    kernel_s = sum(st.seconds for st in recorder.kernels.values())
    return {"kernels": rows, "step_ms": 1e3 * total / steps, "other_ms_per_step": 1e3 * (total - kernel_s) / steps}


def profile_table(rec: dict) -> str:
    """The per-kernel table of a profiled record, for the terminal."""
    p = rec["profile"]
    lines = [f"  {'kernel':24s} {'launches':>8s} {'ms/step':>9s} {'MB/step':>9s} {'of copy':>8s}"]
    for r in p["kernels"]:
        frac = f"{r['fraction_of_copy']:.2f}" if r["fraction_of_copy"] is not None else "-"
        lines.append(f"  {r['kernel']:24s} {r['launches_per_step']:8.1f} {r['ms_per_step']:9.3f} "
                     f"{r['model_bytes_per_step'] / 1e6:9.2f} {frac:>8s}")
    lines.append(f"  {'(host, between launches)':24s} {'':8s} {p['other_ms_per_step']:9.3f}")
    lines.append(f"  step {p['step_ms']:.3f} ms; copy {rec['copy_bytes_per_s'] / 1e9:.2f} GB/s "
                 f"(read + written); whole step at {rec['fraction_of_copy']:.2f} of copy")
    return "\n".join(lines)


def run_bench(backends: list[str] | None = None, sizes: list[tuple[int, ...]] | None = None,
              models: tuple[str, ...] = MODELS, steps: int | None = None, log=None,
              profile: bool = False) -> list[dict]:
    """Every requested (backend, size, model); unavailable backends are skipped
    with their reason reported through ``log``."""
    reasons = available()
    backends = backends or list(BACKENDS)
    records = []
    for b in backends:
        if reasons[b] is not None:
            if log:
                log(f"skip {b}: {reasons[b]}")
            continue
        for shape in sizes or DEFAULT_SIZES[b]:
            for model in models:
                rec = bench_one(b, shape, model, steps, profile=profile)
                if log:
                    frac = rec["fraction_of_copy"]
                    log(f"{b:6s} {model:7s} {'x'.join(map(str, shape)):>13s}  "
                        f"{rec['site_updates_per_s']:.3e} site updates/s  ({rec['steps']} steps, "
                        f"{rec['seconds']:.2f} s, {rec['bytes_per_site']:.1f} B/site"
                        + (f", {frac:.2f} of copy)" if frac is not None else ")"))
                    if "profile" in rec:
                        log(profile_table(rec))
                records.append(rec)
    return records


# --------------------------------------------------------------------------
# Active tiles against dense stepping (gpusim/engine/tiles.py)

#: ``--tiles filled``: the benchmark's dense tumour (every tile holds cells).
FILLED = "filled"


def tiles_config(source: str, overrides: list[str], steps: int, shape: tuple[int, ...] | None = None) -> Config:
    """The config a tiles comparison runs: a config file with ``--set``
    overrides, or (``filled``) :func:`bench_config` of ``shape``."""
    from .config import apply_overrides, load_config

    if source == FILLED:
        cfg = bench_config(shape or (128, 128, 128), "tumour")
        return apply_overrides(cfg, [f"simulation.steps={steps}", *overrides])
    return load_config(source, [*overrides, f"simulation.steps={steps}"])


def _timed_run(backend: str, cfg: Config, filled: bool, steps: int) -> tuple[float, list[float]]:
    """Seconds of ``steps`` steps (after the backend is built) and the
    active-tile fraction after each step."""
    from .engine import tiles

    be = bench_backend(backend, cfg) if filled else make_backend(backend, cfg)
    be.synchronize()
    fractions = []
    t0 = time.perf_counter()
    for _ in range(steps):
        be.step()
        if be.tiles_on:
            fractions.append(float(tiles.active_fraction(be)[0]))  # a 4-byte read: outside the step
    be.synchronize()
    return time.perf_counter() - t0, fractions


def bench_tiles(backend: str, source: str, overrides: list[str] = (), steps: int = 144,
                shape: tuple[int, ...] | None = None) -> dict:
    """The same run stepped with active tiles and densely, back to back (tiles
    first), on a kernel backend: seconds of each, dense / tiles, and the
    active fraction of tiles (mean over steps and at the end).  The run
    files of both would be identical (tests/test_tiles.py); only time differs."""
    from .backends import resolve

    backend = resolve(backend)
    if backend == "numpy":
        raise ValueError("--tiles compares the kernel backends (cpu, cuda): numpy is always dense")
    cfg = tiles_config(source, list(overrides), steps, shape)
    filled = source == FILLED
    on = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"active_tiles": True})})
    off = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"active_tiles": False})})
    tiles_s, fractions = _timed_run(backend, on, filled, steps)
    dense_s, _ = _timed_run(backend, off, filled, steps)
    return {"backend": backend, "source": source, "overrides": list(overrides), "shape": list(cfg.lattice.shape),
            "steps": steps, "tiles_s": tiles_s, "dense_s": dense_s, "speedup": dense_s / tiles_s,
            "active_fraction_mean": float(np.mean(fractions)), "active_fraction_end": fractions[-1],
            "host": describe_host()}


# --------------------------------------------------------------------------
# Cohorts: many small runs batched (gpusim.batch) against one at a time

#: The cohort benchmark's scenario (a 100 x 100 lattice for 30 days).
COHORT_CONFIG = "checkpoint_blockade.toml"


def cohort_config_path():
    """configs/checkpoint_blockade.toml (shipped: :mod:`gpusim.scenarios`)."""
    from .scenarios import config_path

    return config_path(COHORT_CONFIG)


def cohort_configs(n: int, steps: int | None = None, config=None) -> list[Config]:
    """``n`` runs of the scenario with seeds 1..n; odd-numbered runs untreated
    (``therapy = []``), so half the cohort is treated."""
    from .config import apply_overrides, load_config

    base = load_config(config or cohort_config_path(), [f"simulation.steps={steps}"] if steps else [])
    return [apply_overrides(base, [f"simulation.seed={i + 1}", *(["therapy=[]"] if i % 2 else [])])
            for i in range(n)]


def bench_cohort(backend: str, n: int, steps: int | None = None, batch: int | str = "auto",
                 alone: int | None = None, config=None, log=None) -> dict:
    """Time ``n`` runs (run files written to a temporary folder) batched,
    then ``alone`` of them (default all) one at a time on the same backend;
    runs per hour of each.  Kernel compilation is warmed up first."""
    import tempfile
    from pathlib import Path

    from .backends import resolve
    from .batch import auto_batch, run_batch

    backend = resolve(backend)
    cfgs = cohort_configs(n, steps, config)
    alone = n if alone is None else max(1, min(alone, n))
    size = auto_batch(cfgs[0], backend, n) if batch == "auto" else int(batch)
    with tempfile.TemporaryDirectory(prefix="gpusim-cohort-") as tmp:
        d = Path(tmp)
        run_batch(cohort_configs(1, 1, config), [d / "warmup.h5"], backend=backend, progress=False)
        t0 = time.perf_counter()
        run_batch(cfgs, [d / f"batched{i}.h5" for i in range(n)], backend=backend, batch=size, progress=False)
        batched_s = time.perf_counter() - t0
        if log:
            log(f"{backend}: {n} runs batched {size} at a time: {batched_s:.1f} s")
        t0 = time.perf_counter()
        for i in range(alone):
            run_batch([cfgs[i]], [d / f"alone{i}.h5"], backend=backend, batch=1, progress=False)
        alone_s = time.perf_counter() - t0
        if log:
            log(f"{backend}: {alone} runs one at a time: {alone_s:.1f} s")
    record = {
        "backend": backend,
        "cohort": n,
        "steps": cfgs[0].simulation.steps,
        "shape": list(cfgs[0].lattice.shape),
        "batch": size,
        "batched_s": batched_s,
        "alone_runs": alone,
        "alone_s": alone_s,
        "batched_runs_per_hour": 3600.0 * n / batched_s,
        "alone_runs_per_hour": 3600.0 * alone / alone_s,
        "host": describe_host(),
    }
    record["speedup"] = record["batched_runs_per_hour"] / record["alone_runs_per_hour"]
    return record


def therapy_host_configs(n: int) -> list[Config]:
    """``n`` virtual patients (body weight 50-110 kg, antibody clearance x
    0.5-2, different per run) on the combination regimen of CheckMate 067
    (nivolumab 1 mg/kg + ipilimumab 3 mg/kg q3w x 4, then nivolumab 3 mg/kg
    q2w), 2 h steps on a 40 x 40 lattice."""
    base = {"simulation": {"dt_minutes": 120.0, "seed": 1}, "lattice": {"shape": [40, 40]}, "therapy": [
        {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 1.0, "start_day": 0.0, "interval_days": 21.0,
         "doses": 4},
        {"kind": "anti_ctla4", "drug": "ipilimumab", "dose_mg_per_kg": 3.0, "start_day": 0.0, "interval_days": 21.0,
         "doses": 4},
        {"kind": "anti_pd1", "drug": "nivolumab", "dose_mg_per_kg": 3.0, "start_day": 84.0, "interval_days": 14.0,
         "doses": 12}]}
    u = (np.arange(n) + 0.5) / n
    return [Config.model_validate({**base, "simulation": {**base["simulation"], "seed": i + 1},
                                   "patient": {"body_weight_kg": 50.0 + 60.0 * u[i],
                                               "clearance_factor": 0.5 * 4.0 ** u[(7 * i) % n]}})
            for i in range(n)]


def bench_therapy_host(n: int, steps: int = 300) -> dict:
    """Host time per step of the therapy phase (DESIGN §4 step 1: the
    schedule, PK concentrations, occupancies, thresholds, Params writes) of
    a cpu batch of ``n`` virtual patients with their own PK, measured over
    ``steps`` steps of the regimen (every step changes both antibodies'
    levels)."""
    from .engine.backend import KernelBackend
    from .engine.device import CpuDevice

    be = KernelBackend(CpuDevice(), therapy_host_configs(n))
    times = []
    for k in range(steps):
        be.steps[:] = k
        t0 = time.perf_counter()
        be._therapy()
        times.append(time.perf_counter() - t0)
    t = np.array(times[1:])  # the first step writes every field of every run
    return {"runs": n, "steps": steps, "groups": len(be._groups), "median_us_per_step": 1e6 * float(np.median(t)),
            "mean_us_per_step": 1e6 * float(t.mean()), "host": describe_host()}
