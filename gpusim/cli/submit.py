"""gpusim submit SWEEP.toml -o DIR [--nodes N] [--gpus-per-node G] [--time HH:MM:SS]
[--partition P] [--dry-run]

Renders ``scripts/slurm/sweep.sbatch.in`` and submits it with ``sbatch``:
one MPI rank per GPU (``srun --mpi=pmi2``), a USR1 two minutes before the time
limit that requeues the job, and the requeued job resumes the sweep.
``--gpus-per-node 0`` asks for CPUs instead (CPU clusters, CI).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("submit", help="submit a sweep to Slurm (sbatch); requeues itself before the time limit")
    p.add_argument("spec", help="sweep spec TOML file")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="sweep directory (created)")
    p.add_argument("--nodes", type=int, default=1, help="nodes (default 1)")
    p.add_argument("--gpus-per-node", type=int, default=1, help="GPUs per node, one rank each; 0: CPU nodes (default 1)")
    p.add_argument("--tasks-per-node", type=int, help="MPI ranks per node (default: one per GPU; 1 on CPU nodes)")
    p.add_argument("--cpus-per-task", type=int, help="cores per rank (OpenMP threads of the cpu backend; default 1 "
                                                     "on CPU nodes, Slurm's default on GPU nodes)")
    p.add_argument("--time", default="01:00:00", help="time limit per job, HH:MM:SS or D-HH:MM:SS (default 01:00:00)")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--account", help="Slurm account to charge")
    p.add_argument("--backend", help="default: cuda with GPUs, cpu with --gpus-per-node 0")
    p.add_argument("--batch", default="auto", metavar="N|auto",
                   help="passed to gpusim sweep: runs of one lattice shape per device batch (default auto)")
    p.add_argument("--job-name", help="default: gpusim-DIRNAME")
    p.add_argument("--sbatch-option", dest="extra", action="append", default=[], metavar="OPTION",
                   help="extra #SBATCH line, e.g. --sbatch-option=--constraint=a100 (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the batch script, submit nothing, write nothing")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..backends import BACKENDS
    from ..sweepdir import store
    from ..sweepdir.runs import load_plan
    from ..sweep.slurm import SbatchRequest, log_path, render, submit

    plan = load_plan(args.spec)  # a bad spec fails here, not hours later in the queue
    if args.backend and args.backend not in (*BACKENDS, "auto"):
        raise InputError(f"--backend {args.backend!r}: choose auto, cuda, cpu or numpy")
    out_dir = Path(args.output).resolve()
    req = SbatchRequest(spec=str(Path(args.spec).resolve()), out_dir=str(out_dir), nodes=args.nodes,
                        gpus_per_node=args.gpus_per_node, tasks_per_node=args.tasks_per_node,
                        cpus_per_task=args.cpus_per_task, time=args.time, partition=args.partition,
                        account=args.account, backend=args.backend, batch=args.batch, job_name=args.job_name, extra=args.extra)
    script = render(req)
    if args.dry_run:
        print(script, end="")
        return 0
    store.prepare(plan, out_dir)  # Slurm needs DIR for its log; a foreign DIR is refused now
    path = out_dir / "sweep.sbatch"
    store.atomic_write(path, script)
    job = submit(path)
    print(job)  # alone on stdout, for scripts: job=$(gpusim submit ...)
    log = log_path(out_dir, job)
    for line in (f"submitted job {job}; its log: {log} (the job appends to it after a requeue)",
                 f"watch it: squeue -j {job}   or   tail -f {log}",
                 f"progress of the runs: gpusim summarize {out_dir}"):
        logging.getLogger("gpusim").info(line)
    return 0
