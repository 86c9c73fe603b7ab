"""gpusim sweep SWEEP.toml -o DIR [--backend B] [--batch N|auto] [--dry-run] [-q]

Serial when started alone; over MPI when started by ``mpiexec -n N`` or
``srun --mpi=pmi2`` (one GPU, or cores / ranks threads, per rank).  Rerunning
the same command on the same DIR resumes: complete runs are skipped, the rest
are run again.
"""

from __future__ import annotations

import sys

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a parameter sweep (virtual cohort); serial, or MPI under mpiexec/srun")
    p.add_argument("spec", help="sweep spec TOML file")
    p.add_argument("-o", "--output", metavar="DIR", help="sweep directory (created; rerun to resume)")
    p.add_argument("--backend", default="auto", help="auto | cuda | cpu | numpy (default auto)")
    p.add_argument("--batch", default="auto", metavar="N|auto",
                   help="runs of one lattice shape that advance together on a device (default auto: as many "
                        "as fit in GPUSIM_BATCH_MEMORY_SHARE of its free memory, at most GPUSIM_BATCH_MAX; "
                        "1 on numpy)")
    p.add_argument("--dry-run", action="store_true", help="list the runs (id, arm, replicate, seed, overrides)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=main)


def main(args) -> int:
    from pathlib import Path

    from ..batch import parse_batch
    from ..sweep.driver import describe_plan, run_sweep
    from ..sweepdir.runs import load_plan

    if args.dry_run:
        print(describe_plan(load_plan(args.spec), Path(args.output) if args.output else None))
        return 0
    if not args.output:
        raise InputError("sweep: -o DIR is required (the sweep directory)")
    batch = parse_batch(args.batch)
    result = run_sweep(args.spec, args.output, backend=args.backend, progress=not args.quiet, batch=batch)
    if result is None:  # MPI rank > 0: rank 0 reports
        return 0
    where = f"; summary {result.summary}" if result.summary else ""
    print(f"{result.out_dir}: {result.complete}/{result.total} runs complete "
          f"({result.complete - result.already} this time, {result.already} before), {len(result.failed)} failed, "
          f"{result.elapsed_s:.1f} s{where}", file=sys.stdout)
    if result.failed:
        for rid, error in result.failed[:10]:
            print(f"  failed: {rid}: {error}", file=sys.stderr)
        print(f"gpusim: {len(result.failed)} runs failed; rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0
