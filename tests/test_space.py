"""A full file system: the run stops with one line naming the file and the
cause (exit 74), no crash; the file opens, and ``gpusim resume`` continues it
from its last checkpoint once there is space (gpusim/io/space.py)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import QUICKSTART, assert_one_line_error, assert_same_run, cli, make_config

import gpusim.io.space as space
from gpusim.io.checkpoint import read_checkpoint

EX_IOERR = 74


def small_run(tmp_path, steps: int = 60):
    cfg = make_config(simulation={"steps": steps, "seed": 3}, lattice={"shape": [48, 48]},
                      tumour={"initial_radius_cells": 4},
                      output={"frame_every_steps": 5, "checkpoint_every_steps": 10})
    toml = tmp_path / "small.toml"
    toml.write_text(cfg.to_toml())
    return toml


def disk_fills_after(monkeypatch, writes: int) -> None:
    """Room for ``writes`` frames or checkpoints, then none (another process took it)."""
    calls = itertools.count()
    monkeypatch.setattr(space, "free_bytes", lambda path: 1 << 40 if next(calls) < writes else 0)


def test_full_disk_stops_cleanly_then_resume_finishes(tmp_path, monkeypatch, capsys):
    toml, out = small_run(tmp_path), tmp_path / "out" / "run.h5"
    out.parent.mkdir()
    assert cli(capsys, "run", toml, "-o", tmp_path / "ref.h5", "--backend", "cpu", "-q").returncode == 0
    disk_fills_after(monkeypatch, 9)
    proc = cli(capsys, "run", toml, "-o", out, "--backend", "cpu", "-q")
    assert_one_line_error(proc, str(out), "no space left on device", "keeps its checkpoint of step",
                          "gpusim resume", code=EX_IOERR)
    with h5py.File(out) as f:  # plain h5py opens it
        assert f.attrs["status"] == "failed" and "no space left on device" in f.attrs["error"]
        stopped = read_checkpoint(f).state.step
        assert 0 < stopped < 60 and stopped % 10 == 0
    monkeypatch.undo()  # space again
    proc = cli(capsys, "resume", out, "--backend", "cpu", "-q")
    assert proc.returncode == 0, proc.stderr
    assert f"resumed at step {stopped}" in proc.stdout
    assert_same_run(out, tmp_path / "ref.h5")


def test_no_room_for_the_first_checkpoint_says_so(tmp_path, monkeypatch, capsys):
    toml = small_run(tmp_path)
    monkeypatch.setattr(space, "free_bytes", lambda path: 1000)
    proc = cli(capsys, "run", toml, "-o", tmp_path / "run.h5", "--backend", "cpu", "-q")
    assert_one_line_error(proc, "no space left on device", "no checkpoint yet", code=EX_IOERR)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 1 MiB file system (tmpfs; needs root -- skipped, with the reason, elsewhere)."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True,
                          text=True) if shutil.which("mount") else None
    if proc is None or proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() if proc else 'no mount command'}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


SCRIPT = """
import sys
import gpusim.io.space as space
space.free_bytes = lambda path: 1 << 50  # the check passes: the disk fills inside HDF5
from gpusim.cli.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_disk_filling_inside_hdf5_is_one_line_not_a_crash(tmp_path, tiny_tmpfs):
    # The race the check cannot see (another process takes the space): HDF5
    # fails in a write; the run still ends with one line and exit 74.
    toml, out = small_run(tmp_path, steps=400), tiny_tmpfs / "run.h5"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "run", str(toml), "-o", str(out), "--backend", "cpu",
                           "-q", "--set", "lattice.shape=[200,200]", "--set", "output.frame_every_steps=1"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert proc.returncode == EX_IOERR, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{out}: write failed (No space left on device)" in lines[0], proc.stderr[-2000:]


def test_real_full_tmpfs_refuses_with_one_line(tmp_path, tiny_tmpfs):
    toml, out = small_run(tmp_path), tiny_tmpfs / "run.h5"
    proc = subprocess.run([sys.executable, "-m", "gpusim", "run", str(toml), "-o", str(out), "--backend", "cpu",
                           "-q", "--set", "lattice.shape=[300,300]"], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[1])
    assert proc.returncode == EX_IOERR, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "no space left on device" in proc.stderr
    with h5py.File(out) as f:
        assert f.attrs["status"] == "failed"


def test_resume_on_a_still_full_disk_leaves_the_file_as_it_was(tmp_path, monkeypatch, capsys):
    """The room is checked before the file is opened for writing: nothing of
    what it holds changes; once there is space the run ends as if never stopped."""
    toml, out = small_run(tmp_path), tmp_path / "run.h5"
    assert cli(capsys, "run", toml, "-o", tmp_path / "ref.h5", "--backend", "cpu", "-q").returncode == 0
    disk_fills_after(monkeypatch, 9)
    assert cli(capsys, "run", toml, "-o", out, "--backend", "cpu", "-q").returncode == EX_IOERR
    before, xmf = out.read_bytes(), out.with_suffix(".xmf").read_bytes()
    monkeypatch.setattr(space, "free_bytes", lambda path: 300_000)  # room for a frame, not for what resume needs
    proc = cli(capsys, "resume", out, "--backend", "cpu", "-q")
    assert_one_line_error(proc, str(out), "no space left on device", "continuing from step",
                          "keeps its checkpoint of step", code=EX_IOERR)
    assert out.read_bytes() == before and out.with_suffix(".xmf").read_bytes() == xmf
    monkeypatch.undo()
    proc = cli(capsys, "resume", out, "--backend", "cpu", "-q")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(out, tmp_path / "ref.h5")


def test_a_file_without_a_checkpoint_resumes_from_step_0(tmp_path, monkeypatch, capsys):
    """The disk filled before the first checkpoint: the file holds the
    config and seed, so resume rebuilds step 0 and gives the run's bytes."""
    toml, out = small_run(tmp_path), tmp_path / "run.h5"
    assert cli(capsys, "run", toml, "-o", tmp_path / "ref.h5", "--backend", "cpu", "-q").returncode == 0
    monkeypatch.setattr(space, "free_bytes", lambda path: 1000)
    proc = cli(capsys, "run", toml, "-o", out, "--backend", "cpu", "-q")
    assert_one_line_error(proc, "no checkpoint yet", f"gpusim resume {out}", code=EX_IOERR)
    with h5py.File(out) as f:
        assert read_checkpoint(f) is None
    monkeypatch.undo()
    proc = cli(capsys, "resume", out, "--backend", "cpu", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "resumed at step 0" in proc.stdout
    assert_same_run(out, tmp_path / "ref.h5")


def test_rows_recorded_in_blocks_count_the_chunk_they_open(tmp_path):
    """A batch hands rows over many steps at a time: the space check counts
    rows, not blocks, so crossing into a new chunk of rows is foreseen."""
    from gpusim.io.rows import ROW_CHUNK, ObservableRows, chunk_nbytes
    from gpusim.observables import OBSERVABLES

    with h5py.File(tmp_path / "r.h5", "w") as f:
        rows = ObservableRows.create(f, dt_days=0.1)
        steps = np.arange(ROW_CHUNK - 10)
        rows.record_rows(steps, dict.fromkeys(OBSERVABLES, np.zeros(len(steps))))
        assert rows.write_nbytes() == chunk_nbytes()
        rows.write()
        rows.record_rows(steps[:20] + ROW_CHUNK, dict.fromkeys(OBSERVABLES, np.zeros(20)))
        assert rows.write_nbytes() == chunk_nbytes()


@pytest.mark.slow
@pytest.mark.parametrize("mib", [3.5, 4])
def test_the_quickstart_into_a_small_file_system_stops_before_hdf5_fails(tmp_path, tiny_tmpfs, mib):
    """3.5-4 MiB free: the check (rows by the chunk, the XDMF sidecar, the
    clone table) sees the write coming; HDF5 never fails inside one."""
    subprocess.run(["mount", "-o", f"remount,size={int(mib * 1024)}k", str(tiny_tmpfs)], check=True)
    out = tiny_tmpfs / "q.h5"
    proc = subprocess.run([sys.executable, "-m", "gpusim", "run", str(QUICKSTART), "-o", str(out), "--backend", "cpu",
                           "-q"], capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[1])
    assert proc.returncode == EX_IOERR, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left on device" in lines[0] and "keeps its checkpoint" in lines[0], lines
    with h5py.File(out) as f:
        assert f.attrs["status"] == "failed" and read_checkpoint(f) is not None
