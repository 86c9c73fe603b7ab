"""Doing one run of a sweep, and preparing a rank to do runs.

:func:`run_one` is the only place that decides how a run gets done: skip it
if complete, otherwise write it to ``<id>.h5.part`` and rename it into place
when it is complete.  A final ``runs/<id>.h5`` is therefore always complete,
and a rank killed mid-run leaves only its own ``.part`` file behind.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..config import Config
from .store import part_path, run_status

log = logging.getLogger("gpusim")


def run_one(cfg: Config, path: Path, backend: str) -> str:
    """Make ``path`` a complete run file of ``cfg``: 'skipped' if it already
    was, 'complete' once done.  Exceptions propagate (the ``.part`` file
    keeps status ``failed`` and the error)."""
    from ..errors import InputError
    from ..simulation import resume_run, run_to_file

    if run_status(path) == "complete":
        return "skipped"
    part = part_path(path)
    # A .part left by a killed or interrupted rank continues from its last
    # checkpoint; anything else (no file, failed, unreadable) starts over.
    # Either way the bytes are those of an uninterrupted run.
    resumed = False
    if run_status(part) in ("running", "interrupted"):
        try:
            resume_run(part, backend=backend)
            resumed = True
        except InputError:
            pass
    if not resumed:
        run_to_file(cfg, part, backend=backend)
    _publish(part, path)
    return "complete"


def timed_run(cfg: Config, path: Path, backend: str) -> dict:
    """:func:`run_one`, with its outcome as a small picklable record."""
    t0 = time.perf_counter()
    try:
        status, error = run_one(cfg, path, backend), None
    except Exception as err:  # a failed run must not stop the sweep: it is reported and rerun next time
        log.debug("run %s failed", path.name, exc_info=True)
        status, error = "failed", f"{err.__class__.__name__}: {err}"
    return {"status": status, "runtime_s": time.perf_counter() - t0, "error": error}


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
    a complete one) and move its XDMF sidecar along, pointing at the new name."""
    from ..io.frames import xdmf_path

    os.replace(part, path)
    old, new = xdmf_path(part), xdmf_path(path)
    if old.exists():
        new.write_text(old.read_text().replace(f">{part.name}:", f">{path.name}:"))
        old.unlink()
