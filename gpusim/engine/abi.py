"""NumPy mirrors of the ``Params`` and ``Fields`` structs of ``kernels/abi.cuh``.

The header is the single source of the layout; this module parses it, so a
field added there appears here without a second edit.  ``np.dtype(...,
align=True)`` lays fields out exactly as a C compiler does for these types.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .sources import kernel_dir

_CTYPES = {"u8": np.uint8, "u32": np.uint32, "i32": np.int32, "u64": np.uint64, "f32": np.float32}
_DEFINE = re.compile(r"^#define\s+(GPUSIM_\w+)\s+(-?\d+)\b", re.M)
_STRUCT = re.compile(r"struct\s+(\w+)\s*\{(.*?)\};", re.S)
_FIELD = re.compile(r"^\s*(\w+)\s*(\*?)\s*(\w+)\s*(?:\[(\w+)\])?\s*;", re.M)


#: Headers whose ``#define GPUSIM_X n`` constants are exported: the data
#: layout and the RNG counter layout (phase ids).
_CONSTANT_HEADERS = ("abi.cuh", "philox.cuh")


@lru_cache(maxsize=1)
def _header() -> str:
    return (kernel_dir() / "abi.cuh").read_text()


@lru_cache(maxsize=1)
def constants() -> dict[str, int]:
    """Every ``#define GPUSIM_X n`` of abi.cuh and philox.cuh, without the prefix."""
    text = "\n".join((kernel_dir() / h).read_text() for h in _CONSTANT_HEADERS)
    return {name[len("GPUSIM_"):]: int(v) for name, v in _DEFINE.findall(text)}


@lru_cache(maxsize=None)
def struct_dtype(name: str) -> np.dtype:
    """Aligned dtype of struct ``name``; pointer members become uint64."""
    consts = {f"GPUSIM_{k}": v for k, v in constants().items()}
    for sname, body in _STRUCT.findall(_header()):
        if sname != name:
            continue
        fields = []
        for ctype, star, fname, count in _FIELD.findall(body):
            base = np.uint64 if star else _CTYPES[ctype]
            if count:
                n = consts[count] if count in consts else int(count)
                fields.append((fname, base, (n,)))
            else:
                fields.append((fname, base))
        return np.dtype(fields, align=True)
    raise KeyError(f"struct {name} not in abi.cuh")


def params_record() -> np.ndarray:
    """A zeroed one-element ``Params`` record."""
    return np.zeros(1, dtype=struct_dtype("Params"))


def pointer_fields() -> tuple[str, ...]:
    """Names of the ``Fields`` members, in order."""
    return struct_dtype("Fields").names
