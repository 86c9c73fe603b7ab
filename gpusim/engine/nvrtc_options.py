"""Options for compiling the kernels with NVRTC (CuPy on a GPU, and the
driverless compile check in tests/test_nvrtc.py): kept in one place so the
check compiles exactly what runs."""

from __future__ import annotations

from .sources import kernel_dir

#: -fmad=false: no fused multiply-add, so float results equal the host build
#: (-ffp-contract=off) and NumPy (DESIGN §3).
NVRTC_OPTIONS = ("--std=c++17", "-fmad=false")


def include_options() -> tuple[str, ...]:
    return (f"-I{kernel_dir()}",)
