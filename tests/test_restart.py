"""Checkpoints and exact restart: a run killed (SIGKILL) or stopped (SIGTERM,
SIGUSR1) part-way and resumed, or a complete run extended, gives the same
bytes in every dataset as a run made in one go."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import (assert_same_run, assert_states_identical, gpusim, gpusim_popen, make_config,
                      require_backend, rich_state)

from gpusim.config import Config
from gpusim.io.checkpoint import read_checkpoint, write_checkpoint
from gpusim.io.frames import xdmf_path
from gpusim.io.runfile import RunWriter
from gpusim.simulation import resume_run, run_to_file

FRAMES = 60  # frames of a run that a test stops part-way


def churn_config(steps: int, frame_every: int = 20, checkpoint_every: int = 150) -> Config:
    """A small periodic lattice at a turnover equilibrium that keeps founding
    clones (so the clone table grows between checkpoints)."""
    return make_config(
        simulation={"seed": 42, "steps": steps, "dt_minutes": 30.0},
        lattice={"shape": [48, 48], "neighbourhood": "moore", "boundary": "periodic"},
        tumour={"initial_radius_cells": 3.0, "division_rate_per_day": 3.0, "death_rate_per_day": 0.6,
                "max_divisions": 6, "stem_symmetric_division_prob": 0.5, "mutations_per_division": 0.5,
                "pdl1_prob_per_division": 0.02, "hla_loss_prob_per_division": 0.02},
        output={"frame_every_steps": frame_every, "checkpoint_every_steps": checkpoint_every},
    )


def stoppable_run(tmp_path, backend: str) -> tuple[Config, Path, Path]:
    """(config, its TOML, its uninterrupted run file) for a run of FRAMES
    frames that lasts at least a second on ``backend`` here, so that it can
    be caught part-way.  The length is calibrated on the reference run's
    ``runtime_s``, so the tests keep working as the model gets slower or the
    machine faster."""
    steps, toml, ref = 4 * FRAMES, tmp_path / "run.toml", tmp_path / "ref.h5"
    while True:
        every = steps // FRAMES
        cfg = churn_config(steps, frame_every=every, checkpoint_every=every * 7 // 2)
        toml.write_text(cfg.to_toml())
        proc = gpusim("run", toml, "-o", ref, "--backend", backend, "-q", "--overwrite")
        assert proc.returncode == 0, proc.stderr
        with h5py.File(ref) as f:
            runtime = float(f.attrs["runtime_s"])
        if runtime >= 1.0:
            return cfg, toml, ref
        steps = FRAMES * math.ceil(steps * min(8.0, 1.5 / max(runtime, 0.01)) / FRAMES)


def xdmf_frames(path) -> int:
    """Frames listed in the XDMF sidecar (its first temporal collection)."""
    try:
        root = ET.parse(xdmf_path(path)).getroot()
    except (FileNotFoundError, ET.ParseError):
        return 0
    series = next((g for g in root.iter("Grid") if g.get("CollectionType") == "Temporal"), None)
    return 0 if series is None else len(series.findall("Grid"))


def wait_for_frames(path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll the XDMF sidecar (rewritten atomically after every frame) until
    ``n`` frames are on disk; never reads the HDF5 file while it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) before it could be stopped: {proc.stderr.read()}")
        if xdmf_frames(path) >= n:
            return
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"no {n} frames after {timeout} s")


def test_checkpoint_cadence_does_not_change_results(tmp_path):
    cfg = churn_config(150, frame_every=40, checkpoint_every=0)
    run_to_file(cfg, tmp_path / "ref.h5", backend="numpy")
    cfg.output.checkpoint_every_steps = 7
    run_to_file(cfg, tmp_path / "often.h5", backend="numpy")
    assert_same_run(tmp_path / "often.h5", tmp_path / "ref.h5", ignore_parameters=("config",))


CUDA = pytest.param("cuda", marks=pytest.mark.gpu)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "cpu", CUDA])
def test_sigkill_then_resume_is_byte_identical(tmp_path, backend):
    require_backend(backend)
    cfg, toml, ref = stoppable_run(tmp_path, backend)
    every, checkpoint_every = cfg.output.frame_every_steps, cfg.output.checkpoint_every_steps
    out = tmp_path / "run.h5"
    proc = gpusim_popen("run", toml, "-o", out, "--backend", backend, "-q")
    wait_for_frames(out, FRAMES // 4, proc)  # past the first periodic checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    with h5py.File(out) as f, h5py.File(ref) as fr:  # plain h5py, file lock and all
        assert f.attrs["status"] == "running" and "clones" not in f
        frames, steps = f["fields/tumour_clone/value"], f["fields/tumour_clone/step"][()]
        n = len(steps)
        assert FRAMES // 4 <= n < len(fr["fields/tumour_clone/step"])
        np.testing.assert_array_equal(steps, np.arange(n) * every)
        for k in range(n):  # every flushed frame intact
            assert frames[k].tobytes() == fr["fields/tumour_clone/value"][k].tobytes(), k
        rows = f["observables/tumour_cells/value"][()]
        assert len(rows) >= steps[-1] + 1
        assert rows.tobytes() == fr["observables/tumour_cells/value"][: len(rows)].tobytes()
        ckpt = read_checkpoint(f).state
        # The last checkpoint may come after the last frame; its rows are on disk with it.
        assert ckpt.step % checkpoint_every == 0 and 0 < ckpt.step < len(rows)

    proc = gpusim("resume", out, "-q", "--backend", backend)
    assert proc.returncode == 0, proc.stderr
    assert f"resumed at step {ckpt.step}" in proc.stdout
    assert_same_run(out, ref)


@pytest.mark.slow
@pytest.mark.parametrize("signum,backend,resume_backend", [
    (signal.SIGTERM, "cpu", "numpy"), (signal.SIGUSR1, "numpy", "cpu"),
    pytest.param(signal.SIGTERM, "cuda", "numpy", marks=pytest.mark.gpu),
    pytest.param(signal.SIGUSR1, "numpy", "cuda", marks=pytest.mark.gpu)])
def test_signal_checkpoints_then_resume_is_byte_identical(tmp_path, signum, backend, resume_backend):
    require_backend(backend)
    require_backend(resume_backend)
    cfg, toml, ref = stoppable_run(tmp_path, backend)
    steps, out = cfg.simulation.steps, tmp_path / "run.h5"
    proc = gpusim_popen("run", toml, "-o", out, "--backend", backend, "-q")
    wait_for_frames(out, 5, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"interrupted by {name}" in lines[0] and f"gpusim resume {out}" in lines[0], err
    with h5py.File(out) as f:
        assert f.attrs["status"] == "interrupted" and f.attrs["interrupted_by"] == name
        stopped = int(f["observables/tumour_cells/step"][-1])
        assert 0 < stopped < steps
        assert read_checkpoint(f).state.step == stopped  # the checkpoint is where it stopped
        assert "clones" in f
    proc = gpusim("resume", out, "-q", "--backend", resume_backend)
    assert proc.returncode == 0, proc.stderr
    assert f"resumed at step {stopped}" in proc.stdout
    assert_same_run(out, ref)


@pytest.mark.parametrize("backend", ["numpy", "cpu", CUDA])
def test_extending_a_complete_run_equals_a_longer_run(tmp_path, backend, monkeypatch):
    require_backend(backend)
    # 70 is off the frame grid (25): the short run's last frame must go.
    run_to_file(churn_config(70, frame_every=25, checkpoint_every=20), tmp_path / "ext.h5", backend=backend)
    run_to_file(churn_config(160, frame_every=25, checkpoint_every=20), tmp_path / "ref.h5", backend=backend)
    seen = {}
    real_close = RunWriter.close

    def close(self, state, status="complete", **attrs):  # what end-of-run metrics can see
        seen["history"] = self.rows.history("tumour_cells")
        real_close(self, state, status, **attrs)

    monkeypatch.setattr(RunWriter, "close", close)
    obs, start = resume_run(tmp_path / "ext.h5", steps=90, backend=backend)
    assert start == 70
    with h5py.File(tmp_path / "ref.h5") as f:
        np.testing.assert_array_equal(seen["history"][0], np.arange(161))
        np.testing.assert_array_equal(seen["history"][1], f["observables/tumour_cells/value"][()])
    assert_same_run(tmp_path / "ext.h5", tmp_path / "ref.h5")
    with h5py.File(tmp_path / "ext.h5") as f:
        assert "steps = 160" in f["parameters"].attrs["config"]


def test_resume_cli_extends_and_refuses_a_complete_run_without_steps(tmp_path):
    run_to_file(churn_config(60, frame_every=25), tmp_path / "ext.h5", backend="numpy")
    run_to_file(churn_config(100, frame_every=25), tmp_path / "ref.h5", backend="numpy")
    before = (tmp_path / "ext.h5").read_bytes()
    proc = gpusim("resume", tmp_path / "ext.h5")
    assert proc.returncode == 2 and "use --steps N" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert (tmp_path / "ext.h5").read_bytes() == before  # nothing written
    proc = gpusim("resume", tmp_path / "ext.h5", "--steps", "40", "--backend", "numpy", "-q")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(tmp_path / "ext.h5", tmp_path / "ref.h5")


def test_resume_help_documents_steps():
    proc = gpusim("resume", "--help")
    assert proc.returncode == 0
    assert "N steps beyond the checkpoint" in proc.stdout and "finishes its configured" in proc.stdout


# ----------------------------------------------------------------------------
# The checkpoint store itself


def assert_extra_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            assert_extra_equal(a[k], b[k])
        elif isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k
        else:
            assert type(a[k]) is type(b[k]) and a[k] == b[k], k


def assert_same_state(a, b):
    """assert_states_identical, with extras of any kind (scalars, dicts, lists)."""
    assert_extra_equal(a.extra, b.extra)
    assert_states_identical(replace(a, extra={}), replace(b, extra={}))


def test_checkpoint_roundtrip_is_generic(tmp_path):
    st = rich_state()
    with h5py.File(tmp_path / "c.h5", "w") as f:
        write_checkpoint(f, st, runtime_s=2.0)
        assert f["checkpoint"].attrs["current"] == b"a"
        # Second checkpoint: more clones (columns grow), a changed scalar, a dropped key.
        st2 = rich_state()
        st2.step, st2.n_clones = 9, 40
        for name, col in st2.clones.items():
            st2.clones[name] = np.resize(col, 64)
        st2.extra["dose"] = 0.75
        del st2.extra["label"]
        write_checkpoint(f, st2, runtime_s=3.0)
        assert f["checkpoint"].attrs["current"] == b"b"
        st3 = rich_state()
        st3.step = 12
        write_checkpoint(f, st3)  # back into slot a, overwriting in place
        assert f["checkpoint"].attrs["current"] == b"a"
    with h5py.File(tmp_path / "c.h5") as f:
        got = read_checkpoint(f)
    assert got.state.step == 12 and got.runtime_s == 0.0
    assert_same_state(got.state, st3)
    assert set(got.state.sites) == {"clone", "cell", "tcell", "vessel"}
    assert_extra_equal(got.state.extra, st3.extra)
    assert len(got.state.clones["parent"]) >= 16  # a capacity the backends can grow from


@pytest.mark.parametrize("die_at", ["while writing the slot", "after flipping, before the flush"])
def test_killed_while_checkpointing_leaves_a_loadable_checkpoint(tmp_path, die_at):
    """SIGKILL in the middle of writing a checkpoint: the file opens and the
    previous (or the new, if it was already current) checkpoint loads."""
    path = tmp_path / "c.h5"
    code = f"""
import os, signal, sys, h5py, numpy as np
sys.path.insert(0, {str(os.path.dirname(__file__))!r})
from conftest import rich_state
import gpusim.io.checkpoint as ck
from gpusim.io.layout import LIBVER
f = h5py.File({str(path)!r}, "w", libver=LIBVER)
st = rich_state(); st.step = 5
ck.write_checkpoint(f, st)
st.step = 9
st.sites["clone"][:] = 7
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if {die_at!r} == "while writing the slot":
    real = ck._put
    ck._put = lambda g, key, value: die() if key == "parent" else real(g, key, value)
else:
    real_flush = f.flush
    calls = []
    f.flush = lambda: calls.append(1) if not calls else die()
ck.write_checkpoint(f, st)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with h5py.File(path) as f:
        got = read_checkpoint(f).state
    expected = rich_state()
    expected.step = 5
    if die_at == "after flipping, before the flush" and got.step == 9:
        expected.step = 9
        expected.sites["clone"][:] = 7
    assert_same_state(got, expected)
