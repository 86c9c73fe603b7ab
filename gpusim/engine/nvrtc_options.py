"""Options for compiling the kernels with NVRTC (CuPy on a GPU, and the
driverless compile check in tests/test_nvrtc.py): kept in one place so the
check compiles exactly what runs."""

from __future__ import annotations

from .sources import kernel_dir

#: Every option that changes float results, stated:
#: -fmad=false: no fused multiply-add, so float results equal the host build
#: (-ffp-contract=off) and NumPy (DESIGN §3).
#: -ftz=true: CuPy appends -ftz=true to every NVRTC compile (the last -ftz
#: wins), so the kernels always flush subnormals on the GPU; we state it so the
#: NVRTC compile test builds exactly what runs.  The host and NumPy keep
#: subnormals: the chemokine floor (field.cuh chem_floor) makes the results
#: the same either way.
#: -prec-div/-prec-sqrt=true: IEEE division and square root (none is used today).
NVRTC_OPTIONS = ("--std=c++17", "-fmad=false", "-ftz=true", "-prec-div=true", "-prec-sqrt=true")

#: The oldest GPU the kernels run on: compute capability 7.0 (Volta), for
#: ``__match_any_sync`` (the aggregated atomics of kernels/common.cuh).  An
#: NVRTC may support fewer: CUDA 13 (the ``cuda`` extra) starts at 7.5.
MIN_COMPUTE_CAPABILITY = 70


def include_options() -> tuple[str, ...]:
    return (f"-I{kernel_dir()}",)
