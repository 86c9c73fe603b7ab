"""Every kernel compiles through NVRTC for sm_70 (the oldest GPU gpusim
supports: ``__match_any_sync`` needs Volta), sm_80 and sm_90 -- no GPU or
driver needed (cuda-python's nvrtc bindings + the nvidia-cuda-nvrtc wheel).
Compiled with exactly the options and source the cuda backend uses."""

from __future__ import annotations

import pytest

from gpusim.engine.nvrtc_options import MIN_COMPUTE_CAPABILITY, NVRTC_OPTIONS, include_options
from gpusim.engine.sources import kernel_names, unit_source

nvrtc = pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-python not installed (pip install '.[test]')")


def _check(result):
    err = result[0]
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, err
    return result[1:] if len(result) > 2 else (result[1] if len(result) == 2 else None)


def compile_unit(arch: str) -> tuple[bytes, str]:
    src = unit_source().encode()
    prog = _check(nvrtc.nvrtcCreateProgram(src, b"gpusim_kernels.cu", 0, [], []))
    opts = [o.encode() for o in (*NVRTC_OPTIONS, *include_options(), f"--gpu-architecture={arch}")]
    (status,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    size = _check(nvrtc.nvrtcGetProgramLogSize(prog))
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    log_text = log.decode(errors="replace").rstrip("\0 \n")
    assert status == nvrtc.nvrtcResult.NVRTC_SUCCESS, f"NVRTC {arch} failed:\n{log_text}"
    size = _check(nvrtc.nvrtcGetCUBINSize(prog))
    cubin = b" " * size
    nvrtc.nvrtcGetCUBIN(prog, cubin)
    return cubin, log_text


def oldest_arch() -> str:
    """sm_70 (MIN_COMPUTE_CAPABILITY), or the oldest this NVRTC targets if
    it dropped that (CUDA 13 starts at sm_75)."""
    supported = _check(nvrtc.nvrtcGetSupportedArchs())
    return f"sm_{max(MIN_COMPUTE_CAPABILITY, min(supported))}"


@pytest.mark.parametrize("arch", ["oldest", "sm_80", "sm_90"])
def test_every_kernel_compiles(arch):
    arch = oldest_arch() if arch == "oldest" else arch
    cubin, log = compile_unit(arch)
    assert "warning" not in log.lower(), log
    names = kernel_names()
    assert len(names) >= 4
    for name in names:  # extern "C": each kernel's symbol is in the cubin unmangled
        assert name.encode() in cubin, f"{name} missing from the {arch} cubin"


def test_float_mode_is_stated_and_uncontracted():
    """The PTX of every float operation is what DESIGN §3 promises: no fused
    multiply-add (-fmad=false), flush-to-zero as CuPy forces it (-ftz=true, so
    the chemokine floor is what keeps cuda == numpy), IEEE rounding."""
    src = unit_source().encode()
    prog = _check(nvrtc.nvrtcCreateProgram(src, b"gpusim_kernels.cu", 0, [], []))
    opts = [o.encode() for o in (*NVRTC_OPTIONS, *include_options(), "--gpu-architecture=compute_90")]
    (status,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    assert status == nvrtc.nvrtcResult.NVRTC_SUCCESS
    size = _check(nvrtc.nvrtcGetPTXSize(prog))
    ptx = b" " * size
    nvrtc.nvrtcGetPTX(prog, ptx)
    ops = [line.split()[0] for line in ptx.decode().splitlines()
           if line.strip().split(" ")[0].split(".")[0] in ("add", "sub", "mul", "fma") and ".f32" in line]
    assert ops, "no float32 arithmetic found in the PTX"
    assert not [op for op in ops if op.startswith("fma")], ops
    assert all(".rn.ftz.f32" in op for op in ops), sorted(set(ops))
