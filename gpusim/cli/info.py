"""gpusim info: versions, backends found, GPUs, compilers."""

from __future__ import annotations

import importlib
import platform
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="versions, backends, GPUs and compilers found here")
    p.set_defaults(func=main)


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except ImportError:
        return "not installed"


def main(args) -> int:
    from ..version import __version__
    from ..backends import available, resolve
    from ..engine.host_build import cache_dir, compiler_version, find_compiler
    from ..hostinfo import describe_host

    print(f"gpusim {__version__} (Python {sys.version.split()[0]}, {platform.platform()})")
    print(f"host: {describe_host()}")
    for mod in ("numpy", "h5py", "pydantic", "cupy", "mpi4py"):
        print(f"  {mod:10s} {_version(mod)}")
    cxx = find_compiler()
    print(f"C++ compiler: {compiler_version(cxx) if cxx else 'none'}  ({cxx or '-'})")
    print(f"kernel cache: {cache_dir()}")
    print("backends:")
    for name, reason in available().items():
        print(f"  {name:6s} {'available' if reason is None else 'unavailable: ' + reason}")
    if available()["cuda"] is None:
        import cupy

        for d in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(d)
            print(f"  GPU {d}: {props['name'].decode()}, {props['totalGlobalMem'] / 2**30:.1f} GiB, "
                  f"sm_{props['major']}{props['minor']}")
    print(f"auto -> {resolve('auto')}")
    return 0
