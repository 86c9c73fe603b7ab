"""gpusim bench [--backend B ...] [--size NXxNY[xNZ] ...] [--steps N] [--json] [--profile]
gpusim bench --cohort N [--batch N|auto] [--alone K] [--backend B] [--steps N] [--json]
gpusim bench --calibrate SPEC [--quick] [--cohort N] [--batch N|auto] [--backend B] [--json]
gpusim bench --tiles CONFIG.toml|filled [--set key=value ...] [--size ...] [--backend B] [--steps N] [--json]"""

from __future__ import annotations

import json
import sys

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="site updates per second per backend and lattice size")
    p.add_argument("--backend", action="append", choices=["cuda", "cpu", "numpy"],
                   help="backend to time (repeatable; default: every available one)")
    p.add_argument("--size", action="append", help="lattice NXxNY or NXxNYxNZ (repeatable)")
    p.add_argument("--model", action="append", choices=["tumour", "full", "microenvironment"],
                   help="model (repeatable; default tumour and full; microenvironment: full with IFN-gamma, "
                        "Tregs, oxygen, CCL2 and myeloid suppressors on)")
    p.add_argument("--steps", type=int, help="timed steps (default: enough for ~1 s)")
    p.add_argument("--json", action="store_true", help="print a JSON list of records on stdout")
    p.add_argument("--profile", action="store_true",
                   help="per kernel: launches, ms and minimum-traffic bytes per step, against a device copy")
    p.add_argument("--cohort", type=int, metavar="N",
                   help="time N runs of configs/checkpoint_blockade.toml (seeds 1..N, half treated) batched "
                        "against one at a time; prints runs per hour of both (--steps shortens the runs)")
    p.add_argument("--batch", default="auto", help="with --cohort: runs per batch, N or auto (default)")
    p.add_argument("--alone", type=int, metavar="K",
                   help="with --cohort: time only K runs one at a time (default all N)")
    p.add_argument("--therapy-host", type=int, action="append", metavar="N",
                   help="host time per step of the therapy phase for a cpu batch of N virtual patients with "
                        "their own antibody PK (repeatable: compare N)")
    p.add_argument("--calibrate", metavar="SPEC",
                   help="time one generation of a calibration spec (its [abc] population from the priors, or "
                        "--cohort N particles) batched against one run at a time (gpusim calibrate)")
    p.add_argument("--quick", action="store_true", help="with --calibrate: the spec's [quick] settings")
    p.add_argument("--tiles", metavar="CONFIG",
                   help="time CONFIG.toml (or 'filled': the dense benchmark tumour of --size) with active "
                        "tiles and densely, back to back; prints both, the speed-up and the active fraction "
                        "(--steps, default 144)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="with --tiles: config override (repeatable)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..bench import MODELS, parse_size, run_bench

    try:
        sizes = [parse_size(s) for s in args.size] if args.size else None
    except ValueError as err:
        raise InputError(str(err)) from None
    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be >= 1")
    if args.backend:
        from ..backends import available

        for b in args.backend:
            if available()[b] is not None:
                raise InputError(f"--backend {b}: not available here: {available()[b]}")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    if args.calibrate is not None:
        return _calibrate(args, log)
    if args.cohort is not None:
        return _cohort(args, log)
    if args.therapy_host:
        return _therapy_host(args, log)
    if args.tiles is not None:
        return _tiles(args, sizes, log)
    records = run_bench(args.backend, sizes, tuple(args.model or MODELS), args.steps, log=log, profile=args.profile)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()
    return 0


def _cohort(args, log) -> int:
    from ..batch import parse_batch
    from ..bench import bench_cohort

    if args.cohort < 1:
        raise InputError("--cohort must be >= 1")
    if args.alone is not None and args.alone < 1:
        raise InputError("--alone must be >= 1")
    if args.backend and len(args.backend) > 1:
        raise InputError("--cohort times one backend: give --backend once")
    rec = bench_cohort(args.backend[0] if args.backend else "auto", args.cohort, args.steps,
                       parse_batch(args.batch), args.alone, log=log)
    return _report(args, log, rec, f"{rec['backend']}: cohort of {rec['cohort']} x {rec['steps']} steps on "
                   f"{'x'.join(map(str, rec['shape']))}: batched ({rec['batch']} per batch) "
                   f"{rec['batched_runs_per_hour']:.0f} runs/hour, one at a time "
                   f"{rec['alone_runs_per_hour']:.0f} runs/hour ({rec['speedup']:.2f}x)")


def _report(args, log, rec: dict, line: str) -> int:
    """One record: its line through ``log``, and the record as JSON with --json."""
    log(line)
    if args.json:
        json.dump([rec], sys.stdout, indent=1)
        print()
    return 0


def _therapy_host(args, log) -> int:
    from ..bench import bench_therapy_host

    if any(n < 1 for n in args.therapy_host):
        raise InputError("--therapy-host must be >= 1")
    records = [bench_therapy_host(n, args.steps or 300) for n in args.therapy_host]
    for r in records:
        log(f"therapy phase, {r['runs']} virtual patients ({r['groups']} schedule group): median "
            f"{r['median_us_per_step']:.0f} us, mean {r['mean_us_per_step']:.0f} us of host time per step "
            f"({r['steps']} steps)")
    if args.json:
        json.dump(records, sys.stdout, indent=1)
def _calibrate(args, log) -> int:
    from ..batch import parse_batch
    from ..calibrate.bench import bench_generation

    if args.backend and len(args.backend) > 1:
        raise InputError("--calibrate times one backend: give --backend once")
    if args.cohort is not None and args.cohort < 1:
        raise InputError("--cohort must be >= 1")
    rec = bench_generation(args.calibrate, args.backend[0] if args.backend else "auto", args.cohort,
                           parse_batch(args.batch), args.quick, log=log)
    log(f"{rec['backend']}: one generation of {args.calibrate} ({rec['particles']} particles, {rec['runs']} runs x "
        f"{rec['steps']} steps on {'x'.join(map(str, rec['shape']))}): batched {rec['batched_runs_per_hour']:.0f} "
        f"runs/hour, one at a time {rec['alone_runs_per_hour']:.0f} runs/hour ({rec['speedup']:.2f}x)")
    if args.json:
        json.dump([rec], sys.stdout, indent=1)
        print()
    return 0


def _tiles(args, sizes, log) -> int:
    from ..bench import bench_tiles

    if args.backend and len(args.backend) > 1:
        raise InputError("--tiles times one backend: give --backend once")
    if sizes and len(sizes) > 1:
        raise InputError("--tiles times one lattice: give --size once")
    try:
        rec = bench_tiles(args.backend[0] if args.backend else "auto", args.tiles, args.overrides,
                          args.steps or 144, sizes[0] if sizes else None)
    except ValueError as err:
        raise InputError(f"--tiles: {err}") from None
    return _report(args, log, rec, f"{rec['backend']}: {args.tiles} {'x'.join(map(str, rec['shape']))}, "
                   f"{rec['steps']} steps: tiles {rec['tiles_s']:.2f} s, dense {rec['dense_s']:.2f} s "
                   f"({rec['speedup']:.2f}x); active tiles {100 * rec['active_fraction_mean']:.1f} % on average, "
                   f"{100 * rec['active_fraction_end']:.1f} % at the end")
