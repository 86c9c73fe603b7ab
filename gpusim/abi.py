"""The kernels' shared declarations: every ``#define GPUSIM_X n`` constant
of the kernel sources (``kernels/*.cuh`` and ``kernels/*.cu``) and NumPy
mirrors of the ``Params`` and ``Fields`` structs of ``kernels/abi.cuh``.

The kernel files are the single source of the layout, the state bits, the
event counters and the RNG phase ids (the shared ones in ``philox.cuh``, a
component's own at the top of its kernel file); this module parses them, so
a field or constant added there appears here without a second edit.  It sits outside
both backends (it imports nothing of gpusim) so that the state, the NumPy
reference and the kernel engine all read it without importing each other.
``np.dtype(..., align=True)`` lays fields out exactly as a C compiler does
for these types.

>>> constants()["CELL_STEM"], COUNTERS["divisions"]
(128, 0)
>>> "p_tumour_divide" in params_record().dtype.names
True
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

_CTYPES = {"u8": np.uint8, "u32": np.uint32, "i32": np.int32, "u64": np.uint64, "f32": np.float32}
_DEFINE = re.compile(r"^#define\s+(GPUSIM_\w+)\s+(-?(?:0x[0-9A-Fa-f]+|\d+))(?:ull|u)?\b", re.M)
_STRUCT = re.compile(r"struct\s+(\w+)\s*\{(.*?)\};", re.S)
_FIELD = re.compile(r"^\s*(\w+)\s*(\*?)\s*(\w+)\s*(?:\[(\w+)\])?\s*;", re.M)

#: Kernel files whose ``#define GPUSIM_X n`` constants are exported: the
#: shared headers (data layout, RNG counter layout, claim protocol, ...) and
#: every kernel source (a component's phase ids).  The host-only ``*.h``
#: shims are not kernel code.
_CONSTANT_SUFFIXES = (".cuh", ".cu")


@lru_cache(maxsize=1)
def kernel_dir() -> Path:
    """The folder holding ``*.cu`` and ``*.cuh`` files.

    The kernels ship inside the wheel as ``gpusim/kernels`` (pyproject
    force-include); in a source checkout (editable install, ``PYTHONPATH`` on
    a GPU node) they are the top-level ``kernels/`` folder beside the package."""
    packaged = resources.files("gpusim") / "kernels"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[1] / "kernels"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("gpusim kernels not found (neither gpusim/kernels nor ./kernels)")


@lru_cache(maxsize=1)
def _header() -> str:
    return (kernel_dir() / "abi.cuh").read_text()


def _defines() -> list[tuple[str, str, int]]:
    """(file, name without the prefix, value) of every integer
    ``#define GPUSIM_X n`` (decimal or hex, optional u/ull suffix) in the
    kernel files, headers first, each group in name order."""
    files = sorted((p for p in kernel_dir().iterdir() if p.suffix in _CONSTANT_SUFFIXES),
                   key=lambda p: (p.suffix != ".cuh", p.name))
    return [(p.name, name[len("GPUSIM_"):], int(v, 0)) for p in files for name, v in _DEFINE.findall(p.read_text())]


@lru_cache(maxsize=1)
def constants() -> dict[str, int]:
    """Every ``#define GPUSIM_X n`` of the kernel files, without the prefix.
    A name defined twice with different values is an error (the compiler
    would see one translation unit)."""
    out: dict[str, int] = {}
    where: dict[str, str] = {}
    for file, name, value in _defines():
        if out.setdefault(name, value) != value:
            raise ValueError(f"GPUSIM_{name} is {out[name]} in {where[name]} but {value} in {file}")
        where.setdefault(name, file)
    return out


def phase_ids() -> dict[str, tuple[int, str]]:
    """Every Philox phase id (``GPUSIM_PHASE_X``, counter word z) by name:
    (id, the file that declares it).

    >>> phase_ids()["TREG_RECRUIT"]
    (31, 'treg.cu')
    """
    constants()  # a name declared twice with two values is an error here too
    out: dict[str, tuple[int, str]] = {}
    for file, name, value in _defines():
        if name.startswith("PHASE_"):
            out.setdefault(name[len("PHASE_"):], (value, file))
    return out


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


def params_values(source) -> dict:
    """``source``'s attributes that are named like a ``Params`` field: how
    the host fills the block from ModelParams and StepParams without a
    second list of names.

    >>> from types import SimpleNamespace
    >>> params_values(SimpleNamespace(p_expand=7, unrelated=1))
    {'p_expand': 7}
    """
    return {name: getattr(source, name) for name in struct_dtype("Params").names if hasattr(source, name)}


def _slots(prefix: str) -> dict[str, int]:
    return {k[len(prefix):].lower(): v for k, v in constants().items() if k.startswith(prefix)}


#: Per-step event counters the kernels count (``GPUSIM_COUNTER_X``), by
#: observable name: ``divisions`` ... ``transferred``.
COUNTERS: dict[str, int] = _slots("COUNTER_")

#: State observables the kernels reduce into the same array
#: (``GPUSIM_OBS_X``, kernels/observe.cu): ``tumour_cells`` ... plus
#: ``recognition_sum``, ``mutation_sum`` and ``neoantigen_sum`` (numerators of
#: mean_recognition, tmb and neoantigen_load).
OBSERVED: dict[str, int] = _slots("OBS_")
