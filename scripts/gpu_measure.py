"""Measurements for scripts/gpu_check.sh (any backend; the check runs them on cuda).

    python scripts/gpu_measure.py copy [--backend B] [--gib G]
        device-to-device copy bandwidth (bytes read + written per second)
    python scripts/gpu_measure.py quickstart [--backend B] [--steps N]
        steps per second of stepping (no file) on configs/quickstart.toml
    python scripts/gpu_measure.py startup CONFIG [--backend B] [--steps N] [--set k=v ...]
        command-to-first-step seconds, then seconds per step, per simulated
        day, and the projected wall time of the configured run

Each prints one JSON line on stdout (and a readable line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

T_START = time.perf_counter()  # as close to the command as Python gets

from gpusim.backends import resolve  # noqa: E402
from gpusim.config import load_config  # noqa: E402
from gpusim.simulation import Simulation  # noqa: E402


def _sync(sim) -> None:
    sim.backend.synchronize()


def copy(args) -> dict:
    from gpusim.engine.device import CpuDevice, CudaDevice

    dev = CudaDevice() if resolve(args.backend) == "cuda" else CpuDevice()
    nbytes = int(args.gib * 2**30)
    rate = dev.copy_bytes_per_s(nbytes, min_seconds=1.0)
    return {"what": "copy", "device": dev.describe(), "bytes": nbytes, "copy_bytes_per_s": rate}


def quickstart(args) -> dict:
    cfg = load_config("configs/quickstart.toml", ["output.frame_every_steps=0"] + args.set)
    sim = Simulation(cfg, backend=args.backend)
    for _ in range(20):  # warm-up: kernel loading, first-touch, CuPy's own kernels
        sim.step()
    _sync(sim)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        sim.step()
    _sync(sim)
    dt = time.perf_counter() - t0
    return {"what": "quickstart", "backend": sim.backend_name, "device": sim.backend.describe(),
            "steps": args.steps, "seconds": dt, "steps_per_s": args.steps / dt}


def startup(args) -> dict:
    cfg = load_config(args.config, args.set)
    backend = resolve(args.backend)
    sim = Simulation(cfg, backend=backend)
    _sync(sim)
    start_s = time.perf_counter() - T_START
    t0 = time.perf_counter()
    sim.step()
    _sync(sim)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        obs = sim.step()
    _sync(sim)
    per_step = (time.perf_counter() - t0) / max(args.steps, 1)
    steps_per_day = 1440.0 / cfg.simulation.dt_minutes
    return {"what": "startup", "config": args.config, "backend": backend, "device": sim.backend.describe(),
            "sites": cfg.lattice.n_sites, "tumour_cells_at_start": sim.last_observables["tumour_cells"]
            if args.steps == 0 else obs["tumour_cells"], "startup_s": start_s, "first_step_s": first,
            "step_s": per_step, "s_per_day": per_step * steps_per_day,
            "projected_run_s": start_s + per_step * cfg.simulation.steps}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("copy", "quickstart", "startup"):
        s = sub.add_parser(name)
        s.add_argument("--backend", default="auto")
        s.add_argument("--set", action="append", default=[])
    sub.choices["copy"].add_argument("--gib", type=float, default=2.0)
    sub.choices["quickstart"].add_argument("--steps", type=int, default=2000)
    sub.choices["startup"].add_argument("config")
    sub.choices["startup"].add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    rec = {"copy": copy, "quickstart": quickstart, "startup": startup}[args.cmd](args)
    print(json.dumps(rec))
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
