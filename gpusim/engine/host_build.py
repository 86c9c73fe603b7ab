"""Compile ``kernels/*.cu`` with the host C++ compiler into a shared library.

The library is cached under ``$GPUSIM_CACHE_DIR`` (default
``$XDG_CACHE_HOME/gpusim`` or ``~/.cache/gpusim``) by a SHA-256 of every
kernel file, the options and the compiler's version string, so a cached
library is always a build of exactly these bytes.  It is written to a
temporary file and renamed into place: thousands of MPI ranks may race to
build the same library and none of them ever loads a half-written one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from .sources import kernel_dir, kernel_names, source_digest, unit_source

# -ffp-contract=off: no FMA contraction, so float arithmetic matches NumPy and
# the GPU build (-fmad=false) bit for bit (DESIGN §3).
HOST_OPTIONS = ("-O3", "-std=c++17", "-fopenmp", "-ffp-contract=off", "-fPIC", "-fno-semantic-interposition", "-shared")


def find_compiler() -> str | None:
    """The host C++ compiler: ``$CXX``, else c++, g++ or clang++ on PATH."""
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@lru_cache(maxsize=None)
def compiler_version(cxx: str) -> str:
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].strip()


def cache_dir() -> Path:
    env = os.environ.get("GPUSIM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpusim"


def build_library(cxx: str | None = None) -> Path:
    """Return the path of the compiled kernel library, building it if needed."""
    cxx = cxx or find_compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX)")
    unit = unit_source(extra_includes=("host_launch.h",))
    unit += "".join(f"GPUSIM_HOST_LAUNCHER({name})\n" for name in kernel_names())
    digest = source_digest(unit, " ".join(HOST_OPTIONS), compiler_version(cxx))
    target = cache_dir() / f"kernels-{digest[:24]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "gpusim_kernels.cpp"
        src.write_text(unit)
        out = Path(tmp) / target.name
        cmd = [cxx, *HOST_OPTIONS, "-I", str(kernel_dir()), str(src), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"kernel build failed: {' '.join(cmd)}\n{proc.stderr}")
        os.replace(out, target)  # atomic: readers see no file or the whole file
    return target
