"""The new user's battery (issue 21): every bad input or refused write is
one line on stderr with exit 2 (bad input) or 74 (a write refused), nothing
written; lax values are refused, not coerced."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from conftest import QUICKSTART, assert_one_line_error, cli, cli_env

SMALL = ["--set", "lattice.shape=[30,30]", "--set", "simulation.steps=12", "--backend", "numpy", "-q"]


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    from gpusim.cli.main import main

    path = tmp_path_factory.mktemp("battery") / "run.h5"
    assert main(["run", str(QUICKSTART), "-o", str(path), *SMALL]) == 0
    return path


@pytest.mark.parametrize("setting,fragment", [
    ("simulation.seed=true", "simulation.seed: Input should be a valid integer"),
    ("tumour.initial_pdl1='yes'", "tumour.initial_pdl1: Input should be a valid boolean"),
    ("output.slices='yes'", "output.slices: Input should be a valid boolean"),
    (f"immune.initial_tcells={10**30}", "is too large (at most 2**63 - 1)"),
    ("simulation.steps=12345678901234567890123", "simulation.steps: 12345678901234567890123 is too large"),
    ("immune.initial_tcells=901", "immune.initial_tcells: 901 is more than the lattice's 900 sites"),
    ('therapy=[{kind = "adoptive_transfer", day = 0.1, cells = 1000}]',
     "therapy[0].cells: 1000 is more than the lattice's 900 sites"),
])
def test_lax_values_and_counts_beyond_the_lattice_are_refused(tmp_path, capsys, setting, fragment):
    out = tmp_path / "x.h5"
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", out, *SMALL, "--set", setting), fragment)
    assert not out.exists()


def test_outputs_the_file_system_refuses(tmp_path, capsys, run_file):
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", "", *SMALL), "--output '': an empty name")
    assert_one_line_error(cli(capsys, "plot", run_file, "-o", ""), "--output '': an empty name")
    assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", "/dev/full", "--overwrite", *SMALL),
                          "/dev/full: is not a regular file")
    if Path("/proc").is_dir():
        assert_one_line_error(cli(capsys, "run", QUICKSTART, "-o", "/proc/x.h5", *SMALL),
                              "/proc/x.h5: cannot create", code=74)


def test_analyse_checks_its_plot_before_it_writes_the_run_file(tmp_path, capsys, run_file):
    path = shutil.copy(run_file, tmp_path / "run.h5")
    if not Path("/proc").is_dir():
        pytest.skip("no /proc: no place that refuses every writer")
    assert_one_line_error(cli(capsys, "analyse", path, "--plot", "/proc/x.png", "-q"), "/proc/x.png: cannot write here")
    with h5py.File(path) as f:
        assert "analysis" not in f  # nothing written


def checksum_damaged(src, dst) -> Path:
    """A copy of ``src`` with the object header of /observables damaged
    (its checksum no longer matches: HDF5 says so when it is read)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r") as f:
        addr = h5py.h5o.get_info(f["observables"].id).addr
    data = bytearray(Path(dst).read_bytes())
    assert data[addr : addr + 4] == b"OHDR"  # a version-2 header: checksummed
    for k in range(addr + 8, addr + 24):
        data[k] ^= 0x5A
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


@pytest.mark.parametrize("command", ["summarize", "plot", "export"])
def test_a_checksum_damaged_file_is_one_line(tmp_path, capsys, run_file, command):
    path = checksum_damaged(run_file, tmp_path / "damaged.h5")
    extra = {"plot": ["-o", str(tmp_path / "p.png")], "export": ["-o", str(tmp_path / "e")]}.get(command, [])
    assert_one_line_error(cli(capsys, command, path, *extra), f"{path}: ", "damaged")
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "e").exists()


def test_resume_of_a_checkpoint_that_does_not_fit_its_config(tmp_path, capsys, run_file):
    path = shutil.copy(run_file, tmp_path / "run.h5")
    with h5py.File(path, "r+") as f:
        text = f["parameters"].attrs["config"]
        text = text.decode() if isinstance(text, bytes) else text
        f["parameters"].attrs["config"] = text.replace("30,\n    30,", "40,\n    40,")
        assert f["parameters"].attrs["config"] != text
    before = Path(path).read_bytes()
    assert_one_line_error(cli(capsys, "resume", path, "--steps", "3", "--backend", "cpu", "-q"),
                          "its checkpoint does not fit its config", "holds 900 values", "needs 1600")
    assert Path(path).read_bytes() == before


def test_bench_sizes_beyond_the_lattice_or_memory(capsys):
    assert_one_line_error(cli(capsys, "bench", "--size", "100000x100000", "--backend", "cpu"),
                          "bad --size '100000x100000': at most 2**32 - 2 sites")
    assert_one_line_error(cli(capsys, "bench", "--size", "65000x65000", "--backend", "cpu"),
                          "needs", "GiB of host RAM", "free")


def test_a_sweep_grid_above_the_ceiling_is_counted_not_built(tmp_path, capsys):
    from gpusim.sweepdir.spec import MAX_RUNS

    spec = tmp_path / "big.toml"
    spec.write_text(f'seed = 1\n[base]\nconfig = "{QUICKSTART.as_posix()}"\n'
                    '[[grid]]\nkey = "tumour.death_rate_per_day"\nmin = 0.01\nmax = 1.0\nnum = 10000\n'
                    '[[grid]]\nkey = "immune.recruitment_rate_per_day"\nmin = 0.25\nmax = 4.0\nnum = 1000\n')
    t0 = time.perf_counter()
    assert_one_line_error(cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--dry-run"),
                          "10,000,000 runs", f"ceiling of {MAX_RUNS:,} runs")
    assert time.perf_counter() - t0 < 5 and not (tmp_path / "out").exists()


def test_quiet_silences_the_backend_line_and_errors_come_alone(tmp_path, capsys):
    args = ["run", QUICKSTART, "--set", "lattice.shape=[30,30]", "--steps", "3", "--backend", "auto"]
    proc = cli(capsys, *args, "-o", tmp_path / "a.h5", "-q")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = cli(capsys, *args, "-o", tmp_path / "b.h5")
    assert proc.returncode == 0 and "backend auto -> " in proc.stderr
    if Path("/proc").is_dir():  # an error found after the backend is chosen: still one line
        assert_one_line_error(cli(capsys, *args, "-o", "/proc/x.h5"), "cannot create", code=74)


def test_submit_cleans_up_after_sbatch_refuses(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text('#!/bin/sh\necho "sbatch: error: invalid partition specified: nope" >&2\nexit 1\n')
    (fake / "sbatch").chmod(0o755)
    out = tmp_path / "sweep"
    env = cli_env(PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "gpusim", "submit", str(QUICKSTART.parent / "sweep_small.toml"),
                           "-o", str(out), "--partition", "nope"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert_one_line_error(proc, "invalid partition specified: nope")
    assert not out.exists()


def test_ctrl_c_during_start_up_exits_quietly(tmp_path):
    """SIGINT while the command line still imports (before any handler of a
    run): exit 130, no traceback."""
    code = ("import os, signal\nfrom gpusim.cli.main import main\nos.kill(os.getpid(), signal.SIGINT)\n"
            "import gpusim.config  # more start-up: the signal lands here\nraise SystemExit(main(['info']))\n")
    # As from a terminal: a child of a background job (a shell script's `&`,
    # nohup) inherits SIGINT ignored, and Python then raises no
    # KeyboardInterrupt for it.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 130 and proc.stderr == "", proc.stderr
    code = ("import gpusim.cli.info as info\ndef boom(args): raise KeyboardInterrupt\ninfo.main = boom\n"
            "from gpusim.cli.main import main\nraise SystemExit(main(['info']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 130 and proc.stderr.strip() == "gpusim: interrupted", proc.stderr
