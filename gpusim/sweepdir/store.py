"""The sweep directory: its layout, who may write in it, and what is done.

::

    DIR/sweep.toml          the sweep spec, as given
    DIR/base.toml           the resolved base config ([base.set] applied)
    DIR/runs.json           every run: index, id, arm, replicate, seed, params,
                            overrides (--set strings on base.toml), and the
                            sweep's fingerprint
    DIR/runs/<id>.h5        a finished run (only ever renamed into place whole)
    DIR/runs/<id>.h5.part   a run being written, or one that failed / was killed
    DIR/summary.h5          one row per run (pandas, key "runs")
    DIR/.lock               held by the sweep working in DIR
    DIR/sweep.sbatch        the batch script, when made by gpusim submit
    DIR/slurm-<job>.out     Slurm's log of each job

A run is done when ``runs/<id>.h5`` exists with root attribute
``status == "complete"``; anything else is run again.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.paths import check_output_dir
from .runs import Run, SweepPlan
from .spec import GridAxis

FORMAT = 1
#: What a sweep writes in its directory; anything else there means -o points
#: at a directory that is not ours.
OWN_ENTRIES = {"sweep.toml", "base.toml", "runs.json", "runs", "summary.h5", ".lock", "sweep.png", "sweep.sbatch"}


def run_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / "runs" / f"{run_id}.h5"


def part_path(path: Path) -> Path:
    """Where a run is written before it is renamed into place."""
    return path.with_name(path.name + ".part")


def run_status(path: Path) -> str:
    """Root ``status`` of a run file: complete, running, failed, interrupted,
    ``missing`` (no file) or ``unreadable`` (truncated by a kill, not HDF5)."""
    import h5py

    if not path.exists():
        return "missing"
    try:
        with h5py.File(path, "r") as f:
            status = f.attrs.get("status", "unreadable")
            return status.decode() if isinstance(status, bytes) else str(status)
    except (OSError, KeyError, RuntimeError):
        # A SIGKILL mid-write can leave HDF5 metadata that opens but whose
        # root attributes do not ("addr overflow"): h5py raises KeyError or
        # RuntimeError there, not OSError.  Such a file is started over.
        return "unreadable"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_runs_json(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / "runs.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{out_dir}: not a sweep directory (no runs.json)") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None
    if data.get("format") != FORMAT:
        raise InputError(f"{path}: unknown format {data.get('format')!r} (this gpusim writes {FORMAT})")
    return data


def load_runs(out_dir: Path) -> tuple[dict[str, Any], list[Run]]:
    """runs.json's header and its runs."""
    data = read_runs_json(out_dir)
    return data, [Run.from_json(r) for r in data["runs"]]


def check_same_sweep(plan: SweepPlan, out_dir: Path) -> None:
    """Refuse a DIR whose runs.json was written by a different sweep."""
    old = read_runs_json(out_dir)
    if old.get("fingerprint") != plan.fingerprint():
        raise InputError(f"{out_dir}: made by a different sweep spec ({old.get('spec_file')}, fingerprint "
                         f"{old.get('fingerprint')}; this one is {plan.fingerprint()}): use another -o DIR")


def check_dir(plan: SweepPlan, out_dir: Path) -> None:
    """Refuse (without writing anything) a DIR that holds another sweep or
    anything that is not a sweep's."""
    out_dir = Path(out_dir)
    if (out_dir / "runs.json").exists():
        check_same_sweep(plan, out_dir)
    elif out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a directory")
        stray = sorted(n for n in set(os.listdir(out_dir)) - OWN_ENTRIES if not n.startswith("slurm-"))
        if stray:
            raise InputError(f"{out_dir}: exists and is not a sweep directory (it holds {stray[0]!r}): "
                             f"use an empty or new -o DIR")


def prepare(plan: SweepPlan, out_dir: Path) -> None:
    """Create DIR (or check that it belongs to this very sweep) and record
    the spec and the run list.  Refuses a DIR made by another sweep."""
    out_dir = Path(out_dir)
    fingerprint = plan.fingerprint()
    check_dir(plan, out_dir)
    check_output_dir(out_dir)  # the one rule for outputs: DIR's parent must exist
    try:
        (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{out_dir}: cannot create ({err.strerror})") from None
    if (out_dir / "runs.json").exists():
        return
    atomic_write(out_dir / "sweep.toml", plan.spec_text)
    atomic_write(out_dir / "base.toml", plan.base.to_toml())
    header = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "spec_file": str(plan.spec_path.resolve()),
        "sweep_seed": plan.spec.seed,
        "replicates": plan.spec.replicates,
        "params": [{"key": a.key, "scale": a.scale, "kind": "grid" if isinstance(a, GridAxis) else "random"}
                   for a in plan.spec.axes],
        "arms": [a.name for a in plan.spec.arms] or ["base"],
        "reproduce": "gpusim run DIR/base.toml --set OVERRIDE ... --seed SEED",
        "runs": [r.to_json() for r in plan.runs],
    }
    # runs.json last: its presence marks a fully prepared directory.
    atomic_write(out_dir / "runs.json", json.dumps(header, indent=1) + "\n")


class DirLock:
    """An exclusive ``flock`` on DIR/.lock for the whole sweep, so that two
    sweeps (say, a requeued Slurm job and a leftover one) never write the same
    runs.  The kernel drops it when the process dies, however it dies."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / ".lock"
        self.fd: int | None = None

    def __enter__(self):
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EAGAIN, errno.EACCES):
                holder = os.pread(self.fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(self.fd)
                self.fd = None
                raise InputError(f"{self.path.parent}: another sweep is working in it ({holder})") from None
            # Some parallel file systems have no flock: go on without the guard.
            return self
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
