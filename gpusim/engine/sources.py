"""Where the kernel sources live and what a build of them is keyed by.

The kernels ship inside the wheel as ``gpusim/kernels`` (pyproject
force-include); in a source checkout (editable install, ``PYTHONPATH`` on a
GPU node) they are the top-level ``kernels/`` folder beside the package.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

#: Every kernel translation unit, in the order they are compiled together.
KERNEL_SOURCES = ("chemokine.cu", "tumour.cu", "tcell.cu")

#: Threads per block on the GPU; the host launcher uses the same block size so
#: a block is the unit of OpenMP work there.
BLOCK_SIZE = 256


@lru_cache(maxsize=1)
def kernel_dir() -> Path:
    """The folder holding ``*.cu`` and ``*.cuh`` files."""
    packaged = resources.files("gpusim") / "kernels"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "kernels"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("gpusim kernels not found (neither gpusim/kernels nor ./kernels)")


def unit_source(extra_includes: tuple[str, ...] = ()) -> str:
    """One translation unit that includes every kernel source."""
    lines = [f"#define GPUSIM_BLOCK_SIZE {BLOCK_SIZE}"]
    lines += [f'#include "{name}"' for name in KERNEL_SOURCES + extra_includes]
    return "\n".join(lines) + "\n"


def source_digest(*extra: str) -> str:
    """SHA-256 over every file in the kernel folder plus ``extra`` strings
    (options, compiler version): any change to what is compiled changes it."""
    h = hashlib.sha256()
    root = kernel_dir()
    for path in sorted(root.iterdir()):
        if path.suffix in (".cu", ".cuh", ".h"):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for item in extra:
        h.update(item.encode() + b"\0")
    return h.hexdigest()


def kernel_names() -> list[str]:
    """Names of every kernel (``GPUSIM_KERNEL void name(``) in the sources."""
    import re

    pat = re.compile(r"GPUSIM_KERNEL\s+void\s+(\w+)\s*\(")
    return [n for src in KERNEL_SOURCES for n in pat.findall((kernel_dir() / src).read_text())]
