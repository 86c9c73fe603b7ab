"""Signals are honoured within 2 s even inside a long step: the step is
abandoned at the next launch, the state of the last complete step comes
back, and that is the checkpoint written (gpusim/signals.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

import h5py
import pytest
from conftest import assert_same_run, assert_states_identical, gpusim, gpusim_popen, make_config

from gpusim.errors import RunInterrupted
from gpusim.io.checkpoint import read_checkpoint
from gpusim.signals import GUARD_AFTER_S
from gpusim.simulation import Simulation, run_to_file


def long_step_config(n: int, steps: int = 40):
    """Thousands of chemokine substeps (under the 10,000 ceiling) on a fine
    n x n field; a few T cells move too."""
    return make_config(simulation={"steps": steps, "seed": 4}, lattice={"shape": [n, n]},
                       chemokine={"grid_coarsening": 1, "diffusion_um2_per_min": 24000.0},
                       immune={"initial_tcells": 50},
                       output={"frame_every_steps": 1, "checkpoint_every_steps": 0})


def step_seconds(cfg, backend: str) -> float:
    sim = Simulation(cfg, backend=backend)
    started = time.perf_counter()
    sim.step()
    return time.perf_counter() - started


def long_step(backend: str):
    """(config, seconds per step): steps of a second or more on this machine
    (the lattice doubles until they are), long enough to be caught inside."""
    n = 96
    while True:
        cfg = long_step_config(n)
        step_s = step_seconds(cfg, backend)
        if step_s > max(1.0, 2 * GUARD_AFTER_S) or n >= 3072:
            return cfg, step_s
        n *= 2


@pytest.mark.parametrize("backend,signum", [("cpu", signal.SIGTERM), ("numpy", signal.SIGINT)])
def test_signal_inside_a_long_step_stops_at_the_last_complete_step(tmp_path, backend, signum):
    cfg, step_s = long_step(backend)
    assert step_s > max(1.0, 2 * GUARD_AFTER_S), step_s
    sent = []

    def send():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signum)

    out = tmp_path / "run.h5"
    timer = threading.Timer(1.5 * step_s, send)  # in the middle of step 1
    timer.start()
    try:
        with pytest.raises(RunInterrupted) as err:
            run_to_file(cfg, out, backend=backend)
    finally:
        timer.cancel()
    waited = time.perf_counter() - sent[0]
    assert waited < min(2.0, 0.5 * step_s), (waited, step_s)  # did not finish the step first
    assert err.value.exit_code == 128 + signum
    with h5py.File(out) as f:
        assert f.attrs["status"] == "interrupted" and f.attrs["interrupted_by"] == signal.Signals(signum).name
        last = int(f["observables/tumour_cells/step"][-1])
        ckpt = read_checkpoint(f).state
    assert ckpt.step == last, (ckpt.step, last)
    ref = Simulation(cfg, backend=backend)
    for _ in range(last):
        ref.step()
    assert_states_identical(ckpt, ref.state())


def test_quick_steps_are_not_guarded(monkeypatch):
    # A step faster than GUARD_AFTER_S copies nothing: runs of quick steps pay nothing.
    from gpusim.signals import StopOnSignal

    sim = Simulation(make_config(lattice={"shape": [16, 16]}), backend="cpu")
    copies = []
    real = type(sim.backend).snapshot
    monkeypatch.setattr(type(sim.backend), "snapshot", lambda self: copies.append(1) or real(self))
    with StopOnSignal():
        for _ in range(5):
            sim.step()
    assert len(copies) == 1  # the first step of the segment only
    sim.step()  # no handler listening: no copy at all
    assert len(copies) == 1


@pytest.mark.slow
def test_sigterm_inside_a_long_step_then_resume_is_byte_identical(tmp_path):
    cfg, step_s = long_step("cpu")
    toml, out = tmp_path / "long.toml", tmp_path / "run.h5"
    toml.write_text(cfg.to_toml())
    proc = gpusim_popen("run", toml, "-o", out, "--backend", "cpu", "-q")
    deadline = time.monotonic() + 60
    while not (tmp_path / "run.xmf").exists():  # the first frame is written: the run is stepping
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    time.sleep(1.5 * step_s)
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 143 and len(err.strip().splitlines()) == 1, err
    with h5py.File(out) as f:
        stopped = read_checkpoint(f).state.step
    proc = gpusim("resume", out, "--steps", "1", "-q", "--backend", "cpu")
    assert proc.returncode == 0, proc.stderr
    cfg.simulation.steps = stopped + 1
    toml.write_text(cfg.to_toml())
    assert gpusim("run", toml, "-o", tmp_path / "ref.h5", "--backend", "cpu", "-q").returncode == 0
    assert_same_run(out, tmp_path / "ref.h5")
