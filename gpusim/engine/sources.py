"""What a build of the kernel sources is made of and keyed by (where the
sources live: :func:`gpusim.abi.kernel_dir`)."""

from __future__ import annotations

import hashlib

from ..abi import kernel_dir
from ..components import KERNEL_SOURCES  # noqa: F401 (every translation unit, in compile order)

#: Threads per block on the GPU; the host launcher uses the same block size so
#: a block is the unit of OpenMP work there.
BLOCK_SIZE = 256


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
