"""Slurm batch scripts for sweeps: render the template, submit it.

The template is ``scripts/slurm/sweep.sbatch.in`` (shipped in the wheel as
``gpusim/scripts/slurm``), filled with :class:`string.Template`:

>>> script = render(SbatchRequest(spec="/data/cohort.toml", out_dir="/data/cohort", nodes=2,
...                               gpus_per_node=4, time="02:00:00", python="/venv/bin/python"))
>>> print("\\n".join(l for l in script.splitlines() if l.startswith(("#SBATCH", "srun --mpi=pmi2"))))
#SBATCH --job-name=gpusim-cohort
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --time=02:00:00
#SBATCH --output=/data/cohort/slurm-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#SBATCH --gpus-per-node=4
srun --mpi=pmi2 --kill-on-bad-exit=1 /venv/bin/python -m gpusim sweep /data/cohort.toml -o /data/cohort --backend cuda --batch auto &
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template

from ..errors import InputError

TEMPLATE = "sweep.sbatch.in"
SIGNAL_LEAD_S = 120


@lru_cache(maxsize=1)
def template_dir() -> Path:
    """``gpusim/scripts/slurm`` in a wheel, ``scripts/slurm`` in a checkout."""
    packaged = resources.files("gpusim") / "scripts" / "slurm"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "scripts" / "slurm"


def time_limit_s(text: str) -> int:
    """Seconds in a Slurm time limit we accept: [D-]HH:MM:SS or MM:SS.

    >>> time_limit_s("1-02:00:00"), time_limit_s("00:05:00"), time_limit_s("10:00")
    (93600, 300, 600)
    """
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not m or (m.group(1) and not m.group(2)):
        raise InputError(f"--time {text!r}: expected HH:MM:SS or D-HH:MM:SS")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    if minutes >= 60 or seconds >= 60:
        raise InputError(f"--time {text!r}: minutes and seconds must be below 60")
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise InputError(f"--time {text!r}: must be positive")
    return total


@dataclass
class SbatchRequest:
    spec: str
    out_dir: str
    nodes: int = 1
    gpus_per_node: int = 1
    tasks_per_node: int | None = None  # default: one per GPU, or 1 on CPU nodes
    cpus_per_task: int | None = None
    time: str = "01:00:00"
    partition: str | None = None
    account: str | None = None
    backend: str | None = None  # default: cuda with GPUs, cpu without
    batch: str = "auto"  # gpusim sweep --batch: runs of one shape per device batch
    job_name: str | None = None
    python: str = field(default_factory=lambda: sys.executable)
    workdir: str | None = None
    extra: list[str] = field(default_factory=list)  # further #SBATCH options, e.g. --constraint=a100

    def check(self) -> None:
        for name in ("nodes", "tasks_per_node", "cpus_per_task"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"--{name.replace('_', '-')} {value}: must be at least 1")
        if self.gpus_per_node < 0:
            raise InputError(f"--gpus-per-node {self.gpus_per_node}: must be 0 (CPU nodes) or more")
        time_limit_s(self.time)
        from ..batch import parse_batch

        parse_batch(str(self.batch))


def _signal_lead(time_s: int) -> int:
    # Ask for the warning 2 min ahead (one run file flush and the requeue are
    # quick); for short jobs a quarter of the limit, so it never fires at start.
    return min(SIGNAL_LEAD_S, max(10, time_s // 4))


def render(req: SbatchRequest) -> str:
    """The batch script for ``req`` (nothing is checked on disk)."""
    req.check()
    gpus = req.gpus_per_node
    tasks = req.tasks_per_node or (gpus if gpus > 0 else 1)
    backend = req.backend or ("cuda" if gpus > 0 else "cpu")
    options = []
    if gpus > 0:
        options.append(f"--gpus-per-node={gpus}")
    if req.cpus_per_task or gpus == 0:
        options.append(f"--cpus-per-task={req.cpus_per_task or 1}")
    if req.partition:
        options.append(f"--partition={req.partition}")
    if req.account:
        options.append(f"--account={req.account}")
    options += [o if o.startswith("-") else f"--{o}" for o in req.extra]
    # Since Slurm 22.05 srun does not inherit --cpus-per-task from sbatch: pass it on.
    srun_options = "--cpus-per-task=$SLURM_CPUS_PER_TASK " if req.cpus_per_task or gpus == 0 else ""
    out_dir = str(Path(req.out_dir))
    values = {
        "job_name": req.job_name or f"gpusim-{Path(out_dir).name}",
        "nodes": req.nodes,
        "tasks_per_node": tasks,
        "time": req.time,
        "log": shlex.quote(f"{out_dir}/{LOG_NAME}"),
        "signal_lead_s": _signal_lead(time_limit_s(req.time)),
        "options": "\n".join(f"#SBATCH {o}" for o in options),
        "workdir": shlex.quote(req.workdir or str(Path.cwd())),
        "srun_options": srun_options,
        "python": shlex.quote(req.python),
        "spec": shlex.quote(req.spec),
        "outdir": shlex.quote(out_dir),
        "backend": backend,
        "batch": req.batch,
    }
    return Template((template_dir() / TEMPLATE).read_text()).substitute(values)


#: Slurm's log of each job in the sweep directory (%j: the job id).
LOG_NAME = "slurm-%j.out"


def log_path(out_dir: str | Path, job: str) -> Path:
    """Where job ``job`` of the sweep in ``out_dir`` logs."""
    return Path(out_dir) / LOG_NAME.replace("%j", job)


def submit(script_path: Path) -> str:
    """``sbatch --parsable SCRIPT``: the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise InputError("sbatch not found: submit from a Slurm login node (or use --dry-run)")
    proc = subprocess.run([sbatch, "--parsable", str(script_path)], capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"sbatch {script_path}: {first}")
    return proc.stdout.strip().split(";")[0]  # "jobid[;cluster]"
