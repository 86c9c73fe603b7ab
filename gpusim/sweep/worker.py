"""Doing the runs of a sweep, one or a batch at a time, and preparing a
rank to do runs.

:func:`run_batch_of` is the only place that decides how runs get done: skip
the complete ones, continue a ``<id>.h5.part`` left by a killed rank from its
checkpoint, start the rest afresh, advance them together as one batch
(:class:`gpusim.batch.Cohort`), and rename each ``.part`` into place the
moment its run is complete.  A final ``runs/<id>.h5`` is therefore always
complete, and a rank killed mid-batch leaves only ``.part`` files with
checkpoints behind, which the rerun continues.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..config import Config
from ..sweepdir.store import atomic_write, part_path, run_status

log = logging.getLogger("gpusim")


def _start(cfg: Config, path: Path):
    """How run ``cfg`` at ``path`` begins: None if it is complete, else a
    :class:`~gpusim.batch.Member` (from the ``.part`` file's checkpoint when
    a killed or interrupted rank left one; afresh otherwise) and whether it
    resumes."""
    from ..batch import Member
    from ..errors import InputError
    from ..simulation import resume_member

    if run_status(path) == "complete":
        return None, False
    part = part_path(path)
    # Anything but a resumable .part (no file, failed, unreadable) starts over.
    # Either way the bytes are those of an uninterrupted run.
    if run_status(part) in ("running", "interrupted"):
        try:
            return resume_member(part)[0], True
        except InputError:
            pass
    return Member(cfg, None, None), False  # step 0, built by the backend


def run_batch_of(cfgs: list[Config], paths: list[Path], backend: str) -> list[str]:
    """Make every ``paths[i]`` a complete run file of ``cfgs[i]``, advancing
    the runs as one batch (they share a :func:`~gpusim.batch.batch_key`):
    each status is 'skipped' if it already was, 'complete' once done.
    Exceptions propagate (unfinished ``.part`` files keep status ``failed``
    and the error)."""
    from ..batch import Cohort
    from ..io.runfile import RunWriter
    from ..signals import StopOnSignal

    statuses = ["skipped"] * len(cfgs)
    todo, members, resumed = [], [], []
    for i, (cfg, path) in enumerate(zip(cfgs, paths)):
        member, again = _start(cfg, path)
        if member is not None:
            todo.append(i)
            members.append(member)
            resumed.append(again)
    if not members:
        return statuses
    cohort = Cohort(members, backend)
    for i, member, again in zip(todo, members, resumed):
        part = part_path(paths[i])
        if again:
            member.writer = RunWriter.reopen(part, member.cfg, backend=cohort.backend_name)
        else:
            member.writer = RunWriter(part, member.cfg, backend=cohort.backend_name)

        def publish(status, part=part, path=paths[i], i=i):
            if status == "complete":
                _publish(part, path)
                statuses[i] = "complete"
        member.on_close = publish
    with StopOnSignal() as stop:
        cohort.run(stop=stop)
    return statuses


def timed_batch(cfgs: list[Config], paths: list[Path], backend: str) -> list[dict]:
    """:func:`run_batch_of`, with each run's outcome as a small picklable
    record (a failure fails the runs of the batch that were not complete; a
    signal leaves them ``interrupted``, checkpointed for the rerun)."""
    from ..errors import RunInterrupted

    t0 = time.perf_counter()
    try:
        statuses, error = run_batch_of(cfgs, paths, backend), None
    except RunInterrupted:  # a signal: every unfinished run of the batch is checkpointed (.part, interrupted)
        statuses, error = ["complete" if run_status(p) == "complete" else "interrupted" for p in paths], None
    except Exception as err:  # a failed batch must not stop the sweep: it is reported and rerun next time
        log.debug("batch of %s failed", ", ".join(p.name for p in paths), exc_info=True)
        statuses = ["complete" if run_status(p) == "complete" else "failed" for p in paths]
        error = f"{err.__class__.__name__}: {err}"
    runtime = time.perf_counter() - t0
    return [{"status": s, "runtime_s": runtime, "error": error if s == "failed" else None} for s in statuses]


def cores_on_node() -> int:
    """CPUs this node gives the job: Slurm's count when under Slurm, else the
    CPUs this process may run on."""
    slurm = os.environ.get("SLURM_CPUS_ON_NODE")
    if slurm and slurm.isdigit():
        return int(slurm)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def visible_gpus() -> int:
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        return len([d for d in cvd.split(",") if d.strip()])
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())


def configure_rank(backend: str, local_rank: int, local_size: int) -> tuple[str, str]:
    """Point this rank at its share of the node, before its first run.

    cuda: one GPU per rank, ``GPUSIM_CUDA_DEVICE = local_rank % GPUs``.
    cpu: ``OMP_NUM_THREADS = cores on node // ranks on node`` (at least 1),
    unless the user set it -- it must be set before the kernel library loads.
    Returns (concrete backend, a description for the log).
    """
    from ..backends import resolve

    name = resolve(backend)
    if name == "cuda":
        n = visible_gpus()
        device = local_rank % max(n, 1)
        os.environ["GPUSIM_CUDA_DEVICE"] = str(device)
        shared = f"; {local_size} ranks share {n} GPUs" if local_size > n else ""
        return name, f"cuda device {device} of {n}{shared}"
    if name == "cpu":
        if "OMP_NUM_THREADS" not in os.environ:
            os.environ["OMP_NUM_THREADS"] = str(max(1, cores_on_node() // max(local_size, 1)))
            return name, f"cpu, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} ({local_size} ranks on the node)"
        return name, f"cpu, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} (set by the user)"
    return name, name


def _publish(part: Path, path: Path) -> None:
    """Rename a finished ``.part`` into place (atomic: readers see no file or
    a complete one) and move its XDMF sidecar along, pointing at the new name.

    The sidecar moves first and the run file last: a kill at any point leaves
    either the ``.part`` (the rerun resumes it and rewrites its sidecar) or
    the finished run with its sidecar, never a stale ``.part`` sidecar beside
    a finished run."""
    from ..io.frames import xdmf_path

    old, new = xdmf_path(part), xdmf_path(path)
    if old.exists():
        atomic_write(new, old.read_text().replace(f">{part.name}:", f">{path.name}:"))
        old.unlink()
    os.replace(part, path)
