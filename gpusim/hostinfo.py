"""What machine a figure was measured on, in one line (``gpusim bench``'s
``host`` field, ``gpusim info``): node, CPU model, cores, GPUs and driver.

>>> line = describe_host()
>>> "cores" in line and "GPU" in line
True
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import time

import numpy as np


def copy_bytes_per_s(nbytes: int, min_seconds: float = 0.2) -> float:
    """Bytes read + written per second by a host memcpy of ``nbytes`` (the
    host's memory roofline for `gpusim bench`)."""
    src = np.ones(max(nbytes, 1), dtype=np.uint8)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # first touch
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds or reps < 3:
        np.copyto(dst, src)
        reps += 1
    return 2.0 * src.nbytes * reps / (time.perf_counter() - t0)


def cpu_model() -> str:
    """The CPU's marketing name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")) and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> str:
    """Logical CPUs of the machine, and how many this process may use (Slurm, taskset)."""
    total = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return f"{total} cores" + (f" ({usable} usable)" if usable != total else "")


def gpus() -> str:
    """GPU models and the driver, from CuPy when it works, else nvidia-smi; "GPU: none" without."""
    try:
        import cupy
    except ImportError:
        cupy = None
    if cupy is not None:
        rt = cupy.cuda.runtime
        try:
            names = [rt.getDeviceProperties(d)["name"].decode() for d in range(rt.getDeviceCount())]
            cuda = f"CUDA driver API {_cuda(rt.driverGetVersion())}, runtime {_cuda(rt.runtimeGetVersion())}"
            if names:
                return f"GPU: {_count(names)}, {cuda}{_smi_driver()}"
        except rt.CUDARuntimeError:  # CuPy without a driver or device: ask nvidia-smi
            pass
    smi = _smi("name")
    return f"GPU: {_count(smi)}{_smi_driver()}" if smi else "GPU: none"


def _smi(field: str) -> list[str]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, f"--query-gpu={field}", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []


def _smi_driver() -> str:
    driver = _smi("driver_version")
    return f", driver {driver[0]}" if driver else ""


def _count(names: list[str]) -> str:
    return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names))


def _cuda(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"


@functools.cache
def describe_host() -> str:
    """``node: CPU model (arch), N cores; GPU: ...`` -- cite it with a benchmark figure."""
    return f"{platform.node()}: {cpu_model()} ({platform.machine()}), {cores()}; {gpus()}"
