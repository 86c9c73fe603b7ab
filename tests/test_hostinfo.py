"""The host line cited with benchmark figures names the CPU model, core
count, GPU model and driver (gpusim/hostinfo.py)."""

from __future__ import annotations

import os
import sys


from gpusim import hostinfo


def test_host_line_names_cpu_model_and_cores():
    line = hostinfo.describe_host()
    assert hostinfo.cpu_model() in line and f"{os.cpu_count()} cores" in line and "GPU:" in line
    assert hostinfo.cpu_model() not in ("", "x86_64")  # a model, not just the architecture


def test_gpu_model_and_driver_from_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text('#!/bin/sh\ncase "$1" in\n  *name*) printf "NVIDIA H100 80GB HBM3\\nNVIDIA H100 80GB HBM3\\n";;\n'
                   '  *driver*) printf "580.65.06\\n580.65.06\\n";;\nesac\n')
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "cupy", None)  # as without CuPy: nvidia-smi answers
    assert hostinfo.gpus() == "GPU: 2 x NVIDIA H100 80GB HBM3, driver 580.65.06"


def test_bench_records_carry_the_host_line():
    from gpusim.bench import bench_one

    rec = bench_one("numpy", (8, 8), steps=1)
    assert rec["host"] == hostinfo.describe_host()
