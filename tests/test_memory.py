"""gpusim/memory.py: a run that does not fit in memory is refused before
anything is allocated: one line naming what it needs and what is free,
exit code 2, no file written, in well under 5 s."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import gpusim.memory
from gpusim.config import Config
from gpusim.memory import GIB, kernel_bytes_per_site, required_bytes

QUICKSTART = Path(__file__).parents[1] / "configs" / "quickstart.toml"
BIG = "lattice.shape=[1600,1600,1600]"


def test_1600_cubed_refused_on_a_24_gib_machine(tmp_path, capsys, monkeypatch):
    from gpusim.cli.main import main

    monkeypatch.setattr(gpusim.memory, "host_available_bytes", lambda: 24 * 2**30)
    out = tmp_path / "big.h5"
    t0 = time.perf_counter()
    rc = main(["run", str(QUICKSTART), "-o", str(out), "--backend", "cpu", "-q", "--set", BIG])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "needs 57.9 GiB of host RAM on the cpu backend; 24.0 GiB free" in err[0]
    assert not out.exists() and not list(tmp_path.iterdir())
    assert elapsed < 5


def test_refused_for_real_in_a_fresh_process(tmp_path):
    """No monkeypatching: the NumPy reference at 1600^3 needs ~400 GiB."""
    out = tmp_path / "big.h5"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gpusim", "run", str(QUICKSTART), "-o", str(out), "--backend",
                           "numpy", "--set", BIG], capture_output=True, text=True, timeout=120)
    # Refused before allocating: the time is the interpreter's start and
    # imports (seconds on a loaded 2-core runner), not a 400 GiB fill.
    assert time.perf_counter() - t0 < 30
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "GiB of host RAM on the numpy backend" in lines[0] and "GiB free" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("backend", ["cpu", "numpy", "cuda"])
def test_required_bytes_grow_with_the_lattice(backend):
    small, big = (Config.model_validate({"lattice": {"shape": [s, s, s]}}) for s in (32, 64))
    a, b = required_bytes(small, backend), required_bytes(big, backend)
    assert set(a) == ({"host", "device"} if backend == "cuda" else {"host"})
    for where in a:
        assert 7.5 < b[where] / a[where] <= 8.0
    if backend != "numpy":
        key = "device" if backend == "cuda" else "host"
        assert b[key] >= 64**3 * kernel_bytes_per_site()
    assert b["host"] < GIB


def test_the_gpu_memory_check_reads_this_rank_s_device_and_cupy_s_pool(monkeypatch):
    """Read without a GPU: a stand-in CuPy records which device is current
    when free memory is asked for; the pool's unused blocks count as free."""
    import types
    from contextlib import contextmanager

    current, asked = [0], []

    @contextmanager
    def device(i):
        before, current[0] = current[0], i
        try:
            yield
        finally:
            current[0] = before

    free = {0: 1 * GIB, 1: 7 * GIB}
    pools = {0: 0, 1: 3 * GIB}  # a finished batch's arrays, held by the pool
    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(Device=device, runtime=types.SimpleNamespace(
            memGetInfo=lambda: asked.append(current[0]) or (free[current[0]], 80 * GIB))),
        get_default_memory_pool=lambda: types.SimpleNamespace(free_bytes=lambda: pools[current[0]]))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setenv("GPUSIM_CUDA_DEVICE", "1")
    assert gpusim.memory.device_available_bytes() == 10 * GIB
    assert asked == [1] and current[0] == 0  # device 0 never asked (no context left there)
