"""Sweeps over real MPI (the mpi4py and mpich wheels' mpiexec): the same
bytes as a serial sweep, and nothing lost or duplicated when ranks or the
whole job are SIGKILLed and the sweep is rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_env, gpusim
from sweep_util import (SMALL, assert_each_run_once, assert_same_runs, mpiexec, popen_ended,
                        run_files, wait_for, write_sweep)

from gpusim.sweepdir.runs import load_plan

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def need_mpi():
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install '.[test]' or '.[mpi]')")
    if not mpiexec().exists():
        pytest.fail(f"{mpiexec()} missing: the mpich wheel provides it (pip install '.[test]')")


@pytest.fixture(autouse=True)
def no_leaked_shm():
    """A SIGKILLed MPICH rank leaves its /dev/shm segment behind; remove the
    ones this test orphaned (no process maps them any more)."""
    shm = Path("/dev/shm")
    before = set(shm.glob("mpich_*")) if shm.is_dir() else set()
    yield
    if not shm.is_dir():
        return
    mapped = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            mapped.update(line.split()[-1] for line in maps.read_text().splitlines() if "/dev/shm/mpich_" in line)
        except OSError:
            continue
    for seg in set(shm.glob("mpich_*")) - before:
        if str(seg) not in mapped:
            seg.unlink(missing_ok=True)


def mpi_sweep(spec, out, n=3, backend="cpu", batch="1", **popen):
    cmd = [str(mpiexec()), "-n", str(n), sys.executable, "-m", "gpusim", "sweep", str(spec), "-o", str(out),
           "--backend", backend, "--batch", batch]
    e = cli_env()
    del e["OMP_NUM_THREADS"]  # the sweep sets it: cores per node / ranks per node
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                            start_new_session=True, **popen)


@pytest.fixture(scope="module")
def small_numpy(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "small"
    proc = gpusim("sweep", SMALL, "-o", out, "--backend", "numpy", "-q")
    assert proc.returncode == 0, proc.stderr
    return out


def test_mpiexec_3_gives_the_serial_bytes(small_numpy, tmp_path):
    proc = mpi_sweep(SMALL, tmp_path / "small")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert assert_same_runs(small_numpy, tmp_path / "small") == 8
    assert "3 ranks (3 x cpu, OMP_NUM_THREADS=" in err
    ranks = {line.split(" on rank ")[1].split()[0] for line in err.splitlines() if " on rank " in line}
    assert len(ranks) >= 2, err  # the queue spread the work
    assert err.count("[sweep] run ") == 8  # one progress line per run, from rank 0 only
    assert out.count("8/8 runs complete") == 1
    import pandas

    table = pandas.read_hdf(tmp_path / "small" / "summary.h5", "runs")
    assert len(table) == 8 and (table["status"] == "complete").all()


def test_mpiexec_2_batch_4_gives_the_serial_unbatched_bytes(small_numpy, tmp_path):
    proc = mpi_sweep(SMALL, tmp_path / "small", n=2, batch="4")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert assert_same_runs(small_numpy, tmp_path / "small") == 8
    lines = [line for line in err.splitlines() if line.startswith("[sweep] run ")]
    assert len(lines) == 8
    per_rank = Counter(line.split(" on rank ")[1].split()[0] for line in lines)
    assert all(n % 4 == 0 for n in per_rank.values()), err  # runs travel in whole batches of 4


# -------------------------------------------------------------- killing

def rank_pids(marker: str) -> dict[int, int]:
    """MPI rank -> pid of the sweep processes whose command line has marker."""
    pids = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() not in (proc / "cmdline").read_bytes():
                continue
            environ = dict(kv.split(b"=", 1) for kv in (proc / "environ").read_bytes().split(b"\0") if b"=" in kv)
        except OSError:
            continue
        if b"PMI_RANK" in environ:
            pids[int(environ[b"PMI_RANK"])] = int(proc.name)
    return pids


@pytest.mark.parametrize("batch", ["1", "4"])
def test_killed_rank_and_killed_job_then_rerun_lose_and_duplicate_nothing(tmp_path, slow_sweep, batch):
    spec, ref = slow_sweep
    plan = load_plan(spec)
    assert len(plan.runs) == 12

    out = tmp_path / "killed"
    # 1. One worker rank dies (SIGKILL): mpiexec takes the job down.
    job = mpi_sweep(spec, out, batch=batch)
    wait_for(out, 2, popen_ended(job))
    victim = rank_pids(str(out))[2]
    os.kill(victim, signal.SIGKILL)
    job.communicate(timeout=60)
    assert job.returncode != 0
    first = len(run_files(out))
    assert first < 12

    # 2. The rerun is killed whole (every process of the job, SIGKILL).
    job = mpi_sweep(spec, out, batch=batch)
    wait_for(out, first + 2, popen_ended(job))
    os.killpg(job.pid, signal.SIGKILL)
    job.communicate(timeout=60)
    for pid in rank_pids(str(out)).values():  # ranks outlive mpiexec for a moment
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    second = len(run_files(out))
    assert second < 12 and list((out / "runs").glob("*.part"))

    # 3. The third time completes: every run once, the same bytes as without kills
    # (batches resume their runs' .part files from their checkpoints).
    job = mpi_sweep(spec, out, batch=batch)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 0, stderr
    assert f"12/12 runs complete ({12 - second} this time, {second} before)" in stdout
    assert_each_run_once(out, [r.id for r in plan.runs])
    assert assert_same_runs(ref, out) == 12


def test_a_user_error_under_mpiexec_is_one_line_from_rank_0(tmp_path):
    spec = write_sweep(tmp_path, "seed = 1\nreplicas = 2")
    job = mpi_sweep(spec, tmp_path / "out")
    out, err = job.communicate(timeout=120)  # every rank exits: none waits for the others
    assert job.returncode == 2, err
    assert [line for line in err.splitlines() if line.strip()] == [f"gpusim: error: {spec}: replicas: unknown key"]
    assert not (tmp_path / "out").exists()
