"""A stopped sweep stops (gpusim.sweep.driver, gpusim.signals): SIGTERM
(what Slurm sends at the time limit), SIGINT (Ctrl-C) or SIGUSR1 to a
serial, batched or MPI sweep checkpoint the runs in flight, start nothing
new and exit with 128 + the signal number; the rerun continues every run to
the bytes of an uninterrupted sweep."""

from __future__ import annotations

import signal
import time

import h5py
import pytest
from conftest import gpusim, gpusim_popen
from sweep_util import assert_same_runs, popen_ended, run_files, wait_for

pytestmark = pytest.mark.slow


def stop_and_rerun(job, out, sig, reference, rerun):
    """Signal ``job`` once it has finished three runs (a whole batch of 3)
    and has just started another; check how it stopped, then ``rerun()`` and compare
    with ``reference``."""
    wait_for(out, 3, popen_ended(job), just_started=True)
    t0 = time.monotonic()
    job.send_signal(sig)
    _, err = job.communicate(timeout=60)
    stopped_in = time.monotonic() - t0
    assert job.returncode == 128 + sig, err[-3000:]
    assert stopped_in < 15, stopped_in
    assert "Traceback" not in err, err[-3000:]
    assert f"sweep stopped by {signal.Signals(sig).name}" in err and "rerun the same command" in err, err[-3000:]
    parts = sorted((out / "runs").glob("*.h5.part"))
    done = run_files(out)
    assert parts and len(done) + len(parts) < 12, (len(done), len(parts), err[-3000:])  # the rest never started
    for p in parts:
        with h5py.File(p) as f:
            assert f.attrs["status"] == "interrupted" and f.attrs["interrupted_by"] == signal.Signals(sig).name
    proc = rerun()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"12/12 runs complete ({12 - len(done)} this time, {len(done)} before)" in proc.stdout
    assert assert_same_runs(reference, out) == 12


# Each signal and each way of running once (the stop is one handler for
# every signal: gpusim.signals; what differs is a lone run or a batch in flight).
@pytest.mark.parametrize("sig,batch", [(signal.SIGTERM, "1"), (signal.SIGINT, "3")])
def test_a_signalled_serial_or_batched_sweep_stops_and_the_rerun_completes(tmp_path, slow_sweep, sig, batch):
    spec, ref = slow_sweep
    out = tmp_path / "out"
    args = ("sweep", spec, "-o", out, "--backend", "cpu", "--batch", batch)
    stop_and_rerun(gpusim_popen(*args), out, sig, ref, lambda: gpusim(*args, "-q", timeout=600))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_mpi_sweep_stops_and_the_rerun_completes(tmp_path, slow_sweep, sig):
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install '.[test]' or '.[mpi]')")
    from test_sweep_mpi import mpi_sweep

    spec, ref = slow_sweep
    out = tmp_path / "out"
    job = mpi_sweep(spec, out, n=2)
    stop_and_rerun(job, out, sig, ref, lambda: gpusim("sweep", spec, "-o", out, "--backend", "cpu", "-q",
                                                      timeout=600))
