"""Backend selection: ``cuda``, ``cpu``, ``numpy`` or ``auto``.

``auto`` picks cuda when a GPU and CuPy are present, else cpu when a C++
compiler is, else numpy, and says which it picked and why.

>>> sorted(available())  # doctest: +ELLIPSIS
['cpu', 'cuda', 'numpy']
"""

from __future__ import annotations

import logging

from .config import Config
from .errors import InputError
from .state import State

log = logging.getLogger("gpusim")

BACKENDS = ("cuda", "cpu", "numpy")


def cuda_unavailable_reason() -> str | None:
    """None when the cuda backend can run here, else why not."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'gpusim[cuda]')"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA runtime errors have many types
        return f"no usable CUDA device ({err.__class__.__name__}: {err})"
    return None if n > 0 else "no CUDA device"


def cpu_unavailable_reason() -> str | None:
    from .engine.host_build import find_compiler

    return None if find_compiler() else "no C++ compiler found (set CXX)"


def available() -> dict[str, str | None]:
    """Each backend -> None if usable here, else the reason it is not."""
    return {"cuda": cuda_unavailable_reason(), "cpu": cpu_unavailable_reason(), "numpy": None}


def resolve(name: str) -> str:
    """The concrete backend ``name`` stands for ('auto' -> the best usable)."""
    if name == "auto":
        reasons = available()
        for candidate in BACKENDS:
            if reasons[candidate] is None:
                skipped = "; ".join(f"{b}: {reasons[b]}" for b in BACKENDS[: BACKENDS.index(candidate)])
                log.info("backend auto -> %s%s", candidate, f" ({skipped})" if skipped else "")
                return candidate
    if name not in BACKENDS:
        raise InputError(f"--backend {name!r}: choose auto, cuda, cpu or numpy")
    reason = available()[name]
    if reason:
        raise InputError(f"--backend {name}: not available here: {reason}")
    return name


def make_backend(name: str, cfgs: list[Config] | Config, states: list[State | None] | State | None = None):
    """A backend holding a batch of runs (one run is a batch of one): each
    from its state in ``states`` (copied to the device), or from the state
    at step 0 where that is None: its ``[initial]`` tissue section
    (:mod:`gpusim.tissue`) if it has one, else built by kernels on the
    kernel backends.
    A batch that does not fit in memory is refused before anything is
    allocated."""
    from .memory import check_fits

    if isinstance(cfgs, Config):
        cfgs, states = [cfgs], [states]
    states = list(states) if states is not None else [None] * len(cfgs)
    if any(c.initial is not None for c in cfgs):  # runs from a tissue section (gpusim.tissue)
        from .tissue import load_section

        states = [s if s is not None else load_section(c) for c, s in zip(cfgs, states)]
    name = resolve(name)
    check_fits(cfgs[0], name, runs=len(cfgs))
    if name == "numpy":
        from .reference.backend import ReferenceBatch

        return ReferenceBatch(cfgs, states)
    from .engine.backend import KernelBackend

    return KernelBackend(make_device(name), cfgs, states)


def make_device(name: str):
    """The cpu or cuda device the kernels run on."""
    from .engine.device import CpuDevice, CudaDevice

    return CudaDevice() if name == "cuda" else CpuDevice()
