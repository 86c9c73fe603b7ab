"""gpusim submit: the batch script, and real Slurm runs of it.

The real-Slurm tests need ``sinfo`` and a responding controller; they skip
with their reason otherwise, unless GPUSIM_REQUIRE_SLURM=1 (CI, which starts
a single-node Slurm with scripts/slurm/ci_start_slurm.sh) makes that a
failure.  GPUSIM_SLURM_PARTITION picks the partition (default: Slurm's).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import time

import pytest
import tomli_w
from conftest import assert_one_line_error, cli, gpusim
from sweep_util import (SLOW_BASE, SLOW_GRID, SMALL, assert_each_run_once, assert_same_runs, run_files, wait_for,
                        write_sweep)

from gpusim.sweepdir.runs import load_plan

JOB_TIMEOUT_S = 180


# ------------------------------------------------------------ the script


def sbatch_lines(script: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith("#SBATCH")]


def test_dry_run_gpu_script(tmp_path, capsys):
    out = tmp_path / "cohort"
    proc = cli(capsys, "submit", SMALL, "-o", out, "--nodes", 4, "--gpus-per-node", 4, "--time", "02:00:00",
                  "--partition", "gpu", "--sbatch-option=--constraint=h100", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout
    assert script.startswith("#!/bin/bash\n")
    assert sbatch_lines(script) == [
        "#SBATCH --job-name=gpusim-cohort", "#SBATCH --nodes=4", "#SBATCH --ntasks-per-node=4",
        "#SBATCH --time=02:00:00", f"#SBATCH --output={out}/slurm-%j.out", "#SBATCH --open-mode=append",
        "#SBATCH --requeue", "#SBATCH --signal=B:USR1@120", "#SBATCH --gpus-per-node=4",
        "#SBATCH --partition=gpu", "#SBATCH --constraint=h100"]
    assert "trap requeue USR1" in script and 'scontrol requeue "$SLURM_JOB_ID"' in script
    launch = next(line for line in script.splitlines() if line.startswith("srun --mpi=pmi2"))
    assert f"-m gpusim sweep {SMALL} -o {out} --backend cuda --batch auto &" in launch
    assert "$$" not in script and "${" not in script.replace("${SLURM_RESTART_COUNT:-0}", "")
    assert not out.exists()  # a dry run writes nothing
    bash = shutil.which("bash")
    check = subprocess.run([bash, "-n"], input=script, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr


def test_dry_run_cpu_script_asks_for_cpus(tmp_path, capsys):
    proc = cli(capsys, "submit", SMALL, "-o", tmp_path / "c", "--gpus-per-node", 0, "--tasks-per-node", 8,
                  "--cpus-per-task", 2, "--time", "00:10:00", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = sbatch_lines(proc.stdout)
    assert "#SBATCH --ntasks-per-node=8" in lines and "#SBATCH --cpus-per-task=2" in lines
    assert not any("--gpus" in line or "--gres" in line for line in lines)
    assert "#SBATCH --signal=B:USR1@120" in lines
    assert "--cpus-per-task=$SLURM_CPUS_PER_TASK" in proc.stdout and "--backend cpu --batch auto &" in proc.stdout
    batched = cli(capsys, "submit", SMALL, "-o", tmp_path / "c", "--gpus-per-node", 0, "--batch", "16", "--dry-run")
    assert "--backend cpu --batch 16 &" in batched.stdout
    short = cli(capsys, "submit", SMALL, "-o", tmp_path / "c", "--gpus-per-node", 0, "--time", "00:02:00", "--dry-run")
    assert "#SBATCH --signal=B:USR1@30" in sbatch_lines(short.stdout)  # never at the start of a short job


@pytest.mark.parametrize("args, fragment", [
    (["--time", "2h"], "--time '2h': expected HH:MM:SS"),
    (["--time", "00:61:00"], "below 60"),
    (["--nodes", "0"], "--nodes 0: must be at least 1"),
    (["--gpus-per-node", "-1"], "--gpus-per-node -1"),
    (["--backend", "gpu"], "--backend 'gpu'"),
    (["--batch", "many"], "--batch 'many'"),
])
def test_bad_submit_arguments(tmp_path, args, fragment, capsys):
    assert_one_line_error(cli(capsys, "submit", SMALL, "-o", tmp_path / "x", *args, "--dry-run"), fragment)


def test_submit_without_sbatch_says_so(tmp_path):
    env = dict(os.environ, PATH="/nonexistent")
    proc = gpusim("submit", SMALL, "-o", tmp_path / "x", "--gpus-per-node", 0, env=env)
    assert_one_line_error(proc, "sbatch not found")


def test_submit_prints_the_job_id_then_where_it_logs(tmp_path, monkeypatch, capsys, caplog):
    # A stand-in sbatch (real Slurm runs are below): prints "jobid;cluster" like --parsable.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho '4242;cluster'\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out = tmp_path / "c"
    proc = cli(capsys, "submit", SMALL, "-o", out, "--gpus-per-node", 0)
    assert proc.returncode == 0 and proc.stdout == "4242\n", proc
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert f"its log: {out}/slurm-4242.out" in said and "squeue -j 4242" in said
    assert f"tail -f {out}/slurm-4242.out" in said and f"gpusim summarize {out}" in said


# ------------------------------------------------------------ real Slurm


def need_slurm() -> None:
    required = os.environ.get("GPUSIM_REQUIRE_SLURM") == "1"
    reason = None
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        reason = "Slurm not installed (no sinfo/sbatch); CI starts one with scripts/slurm/ci_start_slurm.sh"
    else:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
        states = proc.stdout.split()
        if proc.returncode != 0 or not any(s.rstrip("*~#") in ("idle", "mixed", "allocated") for s in states):
            reason = f"Slurm does not answer or has no usable node (sinfo: {proc.stdout.strip() or proc.stderr.strip()})"
    if reason and required:
        pytest.fail(f"GPUSIM_REQUIRE_SLURM=1 but {reason}")
    if reason:
        pytest.skip(reason)


#: The longest a test waits for Slurm to restart a requeued job; a Slurm
#: that holds one longer is not waited for (the requeue test skips, naming
#: the settings).  A stock Slurm's 180 s is waited for.
MAX_REQUEUE_DELAY_S = 240


def requeue_delay_s(config: str | None = None) -> tuple[int, str]:
    """How long Slurm may hold a requeued job before it starts again, and
    the settings that say so: the credential lifetime (``AuthInfo
    cred_expire``, 120 s when not set, as in a distribution's stock
    slurm.conf; CI's ci_start_slurm.sh sets 15), after which the job waits
    for the scheduler's next pass (``SchedulerParameters sched_interval``,
    60 s when not set).  ``config``: ``scontrol show config``'s output.

    """
    if config is None:
        config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    total, said = 0, []
    for line, key, default in (("AuthInfo", "cred_expire", 120), ("SchedulerParameters", "sched_interval", 60)):
        m = re.search(rf"^{line}\s*=.*\b{key}=(\d+)", config, re.MULTILINE)
        total += int(m.group(1)) if m else default
        said.append(f"{line} {key}={m.group(1) if m else f'{default} (default)'}")
    return total, ", ".join(said)


def job_info(job: str) -> dict[str, str]:
    proc = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True, timeout=30)
    return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))


def wait_job(job: str, timeout: float = JOB_TIMEOUT_S) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = job_info(job)
        if info.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            return info
        time.sleep(1)
    pytest.fail(f"Slurm job {job} not finished after {timeout} s: {job_info(job)}")


def submit(spec, out, *extra) -> str:
    partition = os.environ.get("GPUSIM_SLURM_PARTITION")
    args = ["submit", spec, "-o", out, "--gpus-per-node", 0, "--tasks-per-node", 2, "--time", "00:10:00", *extra]
    proc = gpusim(*args, *(["--partition", partition] if partition else []))
    assert proc.returncode == 0, proc.stderr
    job = proc.stdout.strip()
    assert job.isdigit(), proc.stdout
    return job


@pytest.fixture
def jobs():
    """Job ids submitted by a test: cancelled if the test leaves them behind."""
    ids: list[str] = []
    yield ids
    for job in ids:
        if job_info(job).get("JobState") in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING"):
            subprocess.run(["scancel", job], capture_output=True)


def log_of(out, job) -> str:
    path = out / f"slurm-{job}.out"
    return path.read_text() if path.exists() else "(no log)"


@pytest.mark.slow
def test_slurm_runs_a_submitted_sweep(tmp_path, jobs):
    need_slurm()
    out = tmp_path / "small"
    jobs.append(job := submit(SMALL, out))
    info = wait_job(job)
    assert info["JobState"] == "COMPLETED", f"{info}\n{log_of(out, job)}"
    log = log_of(out, job)
    assert "8/8 runs complete" in log and "2 ranks (2 x cpu, OMP_NUM_THREADS=1" in log, log
    assert (out / "sweep.sbatch").read_text().startswith("#!/bin/bash")
    ref = tmp_path / "ref"
    assert gpusim("sweep", SMALL, "-o", ref, "--backend", "numpy", "-q").returncode == 0
    assert assert_same_runs(ref, out) == 8
    summary = gpusim("summarize", out)
    assert summary.returncode == 0, summary.stderr
    text = " ".join(summary.stdout.split())  # summarize wraps its lines to 100 columns (a long tmp path)
    assert f"sweep {out}: 8 runs (8 complete)" in text and "per arm:" in text


def test_the_requeue_delay_is_read_from_the_running_slurms_settings():
    stock = "AuthInfo                = (null)\nSchedulerParameters     = (null)\n"
    assert requeue_delay_s(stock) == (180, "AuthInfo cred_expire=120 (default), "
                                           "SchedulerParameters sched_interval=60 (default)")
    ci = "AuthInfo                = cred_expire=15\nSchedulerParameters     = bf_interval=5,sched_interval=20\n"
    assert requeue_delay_s(ci) == (35, "AuthInfo cred_expire=15, SchedulerParameters sched_interval=20")


@pytest.mark.slow
def test_slurm_requeue_before_the_time_limit_resumes_the_sweep(tmp_path, jobs):
    need_slurm()
    delay, settings = requeue_delay_s()
    if delay > MAX_REQUEUE_DELAY_S:
        pytest.skip(f"this Slurm may hold a requeued job {delay} s ({settings}), more than the "
                    f"{MAX_REQUEUE_DELAY_S} s this test waits")
    grid = tomllib.loads(SLOW_GRID)  # the slow grid's first and last values only: 8 runs
    grid["grid"][0]["values"] = grid["grid"][0]["values"][::len(grid["grid"][0]["values"]) - 1]
    spec = write_sweep(tmp_path, tomli_w.dumps(grid), SLOW_BASE)
    assert len(load_plan(spec).runs) == 8
    out = tmp_path / "slow"
    jobs.append(job := submit(spec, out))

    def ended():
        state = job_info(job).get("JobState")
        return None if state in ("PENDING", "RUNNING", "CONFIGURING") else f"{state}: {log_of(out, job)}"

    wait_for(out, 2, ended, timeout=JOB_TIMEOUT_S)
    # What Slurm sends --signal-lead seconds before the limit, sent now.
    subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
    info = wait_job(job, JOB_TIMEOUT_S + delay)  # a stock Slurm holds the requeued job up to 180 s
    log = log_of(out, job)
    assert info["JobState"] == "COMPLETED" and info["Restarts"] == "1", f"{info}\n{log}"
    assert "requeueing job" in log and "(restart 1)" in log, log
    assert re.search(r"8 runs, [2-7] already complete", log), log
    assert "8/8 runs complete" in log, log
    assert_each_run_once(out, [r.id for r in load_plan(spec).runs])
    ref = tmp_path / "ref"
    assert gpusim("sweep", spec, "-o", ref, "--backend", "cpu", "-q").returncode == 0
    assert assert_same_runs(ref, out) == 8
    assert run_files(out)
