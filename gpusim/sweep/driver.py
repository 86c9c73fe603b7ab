"""Running a sweep: serially, or over MPI when started by ``mpiexec``/``srun``.

Rank 0 loads the spec, prepares the directory (or checks that it belongs to
this sweep), locks it, lists the runs that are not complete yet and hands
them out (see :mod:`gpusim.sweep.queue`); at the end it rebuilds
``summary.h5`` from the run files.  Every rank takes a share of its node: one
GPU per rank on cuda, cores / ranks OpenMP threads on cpu.

>>> import os, tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "base.toml").write_text('[simulation]\\nsteps = 5\\n[lattice]\\nshape = [12, 12]\\n')
>>> _ = (d / "sweep.toml").write_text('seed = 1\\nreplicates = 2\\n[base]\\nconfig = "base.toml"\\n')
>>> result = run_sweep(d / "sweep.toml", d / "out", backend="numpy", progress=False)
>>> result.complete, result.failed, sorted(p.suffix for p in (d / "out" / "runs").iterdir())
(2, [], ['.h5', '.h5', '.xmf', '.xmf'])
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import textwrap
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, RunInterrupted
from ..progress import flush_notices
from ..signals import StopOnSignal
from ..sweepdir import store
from ..sweepdir.runs import Run, SweepPlan, load_plan
from ..sweepdir.text import TEXT_WIDTH
from .queue import Tally, WorkQueue, serve_and_work, work_remotely, work_serially
from .worker import configure_rank, timed_batch

log = logging.getLogger("gpusim")

#: Set by MPI launchers (hydra/mpiexec, Open MPI, Slurm's PMI plugins, PMIx).
_MPI_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


def _srun_tasks() -> int:
    """Tasks in this srun step (1 outside srun)."""
    if "SLURM_STEP_ID" not in os.environ:
        return 1
    return int(os.environ.get("SLURM_STEP_NUM_TASKS", os.environ.get("SLURM_NTASKS", "1")) or 1)


def mpi_launched() -> bool:
    """Was this process started by an MPI launcher (or a multi-task srun)?"""
    return any(v in os.environ for v in _MPI_LAUNCHER_VARS) or _srun_tasks() > 1


def mpi_world():
    """COMM_WORLD, imported only now (``import gpusim`` never loads mpi4py)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise InputError("started by mpiexec/srun but mpi4py is not installed (pip install 'gpusim[mpi]')") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1 and _srun_tasks() > 1:
        # Without a PMI plugin each task is its own 1-rank world: they would all
        # run the whole sweep.  Refuse instead.
        raise InputError(f"srun started {_srun_tasks()} tasks but MPI sees one: launch with srun --mpi=pmi2 "
                         f"(or mpiexec)")
    return comm


@dataclass
class SweepResult:
    out_dir: Path
    total: int
    already: int  # complete before this invocation
    complete: int  # complete now (already included)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run id, error)
    elapsed_s: float = 0.0
    summary: Path | None = None


def _describe(run: Run) -> str:
    return f"{run.id} ({run.arm}, rep {run.replicate})"


def _node_layout(comm) -> tuple[int, int]:
    """(rank on this node, ranks on this node), from a shared-memory split.

    Launcher variables (SLURM_LOCALID, MPI_LOCALRANKID, ...) are not used:
    they can be inherited wrongly (mpiexec inside an sbatch step passes the
    batch step's SLURM_LOCALID=0 to every rank); the split is right under any
    launcher."""
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    try:
        return node.Get_rank(), node.Get_size()
    finally:
        node.Free()


def _prepare(spec_path, out_dir: Path, backend: str, held: ExitStack) -> tuple[SweepPlan, list[int], str]:
    """Rank 0: load, check and lock (the directory's lock joins ``held``, the
    sweep's ``with``: released when the sweep ends, however it ends); returns
    the plan, the runs still to do and the concrete backend."""
    from ..backends import resolve

    plan = load_plan(spec_path)
    store.check_dir(plan, out_dir)
    concrete = resolve(backend)  # an unusable backend fails before anything is written
    store.prepare(plan, out_dir)
    held.enter_context(store.DirLock(out_dir))
    todo = [r.index for r in plan.runs if store.run_status(store.run_path(out_dir, r.id)) != "complete"]
    return plan, todo, concrete


def _agree(comm, rank: int, problem: str | None) -> None:
    """Every rank learns whether any rank hit a user error (one rank alone
    raising would leave the others waiting forever); rank 0 raises it as the
    one line, the others exit quietly."""
    problems = [problem] if comm is None else comm.allgather(problem)
    bad = [p for p in problems if p]
    if not bad:
        return
    if rank == 0:
        more = f" (and {len(bad) - 1} more ranks)" if len(bad) > 1 else ""
        raise InputError(bad[0] + more)
    raise SystemExit(2)


def batches(plan: SweepPlan, todo: list[int], batch: int | str, backend: str, ranks: int = 1) -> list[tuple]:
    """The runs still to do, in batches of one array shape
    (:func:`gpusim.batch.batch_key`) of at most ``batch`` runs.  ``auto``:
    as many as fit the device (:func:`gpusim.batch.auto_batch`), but no more
    than an equal share of the shape's runs per rank, so every rank gets work."""
    from ..batch import group_by_shape

    cfgs = [plan.config(plan.runs[i]) for i in todo]
    return [tuple(todo[k] for k in g) for g in group_by_shape(cfgs, batch, backend, ranks)]


def run_sweep(spec_path: str | Path, out_dir: str | Path, backend: str = "auto",
              progress: bool = True, batch: int | str = "auto") -> SweepResult | None:
    """Run (or resume) a sweep into ``out_dir``, runs of one array shape
    ``batch`` at a time on a device (``auto``: see :func:`batches`).
    Returns the result on rank 0 and None on other ranks.

    SIGTERM, SIGUSR1 or SIGINT (to any rank) stops the sweep: the batches in
    flight are checkpointed (their ``.part`` files, status ``interrupted``),
    no new run starts, and rank 0 raises :class:`~gpusim.errors.RunInterrupted`
    with 128 + the signal number (other ranks exit with it); rerunning the
    same sweep continues every run, byte-identical."""
    out_dir = Path(out_dir)
    comm = mpi_world() if mpi_launched() else None
    rank = comm.Get_rank() if comm is not None else 0
    size = comm.Get_size() if comm is not None else 1
    if rank > 0:
        log.setLevel(logging.WARNING)  # rank 0 speaks for the sweep

    # SIGTERM/SIGUSR1/SIGINT: the batches in flight checkpoint, nothing new
    # starts.  The directory's lock (rank 0, taken in _prepare) is let go
    # after the signal handlers, as the sweep's last act.
    with ExitStack() as held, StopOnSignal() as stop:
        plan, todo, concrete, problem = None, [], backend, None
        if rank == 0:
            try:
                plan, todo, concrete = _prepare(spec_path, out_dir, backend, held)
            except InputError as err:
                problem = str(err)
        if size > 1:
            problem, plan = comm.bcast((problem, plan), root=0)
        _agree(None, rank, problem)

        where = "serial"
        if comm is not None:
            try:
                concrete, where = configure_rank(concrete, *_node_layout(comm))
            except InputError as err:  # e.g. no GPU on this rank's node
                problem = f"rank {rank} on {os.uname().nodename}: {err}"
            _agree(comm, rank, problem)
        wheres = comm.gather(where, root=0) if comm is not None else [where]
        t0 = time.monotonic()

        def run(indices: tuple[int, ...]) -> list[dict]:
            runs = [plan.runs[i] for i in indices]
            return timed_batch([plan.config(r) for r in runs], [store.run_path(out_dir, r.id) for r in runs],
                               concrete)

        if rank > 0:
            _guarded(comm, lambda: work_remotely(comm, run, stop))
            if stop():
                raise SystemExit(stop.exit_code)  # rank 0 says what happened
            return None

        total = len(plan.runs)
        tally = Tally(total, total - len(todo), lambda i: _describe(plan.runs[i]), enabled=progress)
        flush_notices()
        if progress:
            layout = "; ".join(f"{n} x {w}" for w, n in Counter(wheres).items())
            print(f"[sweep] {out_dir}: {total} runs, {total - len(todo)} already complete, {len(todo)} to do; "
                  f"{size} rank{'s' if size > 1 else ''} ({layout})", file=sys.stderr, flush=True)
        queue = WorkQueue(batches(plan, todo, batch, concrete, size), tally, stop)
        if comm is None:
            work_serially(queue, run)
        else:
            _guarded(comm, lambda: serve_and_work(comm, queue, run))
        failed = [(plan.runs[i].id, res["error"]) for i, res in sorted(tally.results.items())
                  if res["status"] == "failed"]
        result = SweepResult(out_dir, total, total - len(todo), total - len(todo) + tally.done, failed,
                             time.monotonic() - t0)
        result.summary = _write_summary(out_dir, progress)  # still under the lock: no sweep writes meanwhile
        if queue.stopped:
            why = stop.name or "a signal to another rank"
            raise RunInterrupted(f"{out_dir}: sweep stopped by {why}: {result.complete}/{total} runs complete, "
                                 f"{tally.interrupted} checkpointed, nothing new started; rerun the same command "
                                 f"to continue", stop.exit_code if stop() else 128 + signal.SIGTERM)
        return result


def _guarded(comm, work) -> None:
    """Run ``work``; on an unexpected error abort the whole job: a rank that
    cannot go on must not leave the others waiting forever."""
    try:
        work()
    except BaseException:
        if comm.Get_size() > 1:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            comm.Abort(1)
        raise


def _write_summary(out_dir: Path, progress: bool) -> Path | None:
    from ..analysis.sweep_summary import write_summary

    try:
        return write_summary(out_dir)
    except ImportError as err:
        print(f"[sweep] summary.h5 not written: {err} (pip install pandas tables)", file=sys.stderr, flush=True)
        return None


def describe_plan(plan: SweepPlan, out_dir: Path | None = None) -> str:
    """The dry-run table: id, arm, replicate, seed, overrides (and status
    in ``out_dir``, when it holds this sweep)."""
    spec = plan.spec
    points = len(plan.runs) // max(1, len(spec.arms or [None]) * spec.replicates)
    statuses = None
    if out_dir is not None and (Path(out_dir) / "runs.json").exists():
        store.check_same_sweep(plan, Path(out_dir))
        statuses = [store.run_status(store.run_path(out_dir, r.id)) for r in plan.runs]
    head = (f"{len(plan.runs)} runs = {points} parameter points x {len(spec.arms) or 1} arms x "
            f"{spec.replicates} replicates; sweep seed {spec.seed}; base {plan.spec_path.parent / spec.base.config}")
    rows = [["#", "id", "arm", "rep", "seed"] + (["status"] if statuses else []) + ["overrides"]]
    for r in plan.runs:
        params = " ".join(o for o in r.overrides if not o.startswith("therapy="))
        rows.append([str(r.index), r.id, r.arm, str(r.replicate), str(r.seed)]
                    + ([statuses[r.index]] if statuses else []) + [params or "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    indent = sum(w + 2 for w in widths)
    lines = []
    for row in rows:  # the overrides wrap under their column: lines fit 100 columns
        parts = textwrap.wrap(row[-1], max(TEXT_WIDTH - indent, 30), break_on_hyphens=False,
                              break_long_words=False) or [""]
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + parts[0])
        lines += [" " * indent + part for part in parts[1:]]
    return "\n".join([*textwrap.wrap(head, TEXT_WIDTH, subsequent_indent="  ", break_on_hyphens=False), *lines])
